# Reference covariate-adjusted effects (g-computation) for jdl.inference._adjusted
# (tests/inference/test_r_reference.py). Input: adjusted_inputs.csv
# (tests/inference/r/export_adjusted_inputs.py): matched samples from jdl with MatchIt's weights,
# pair ids and the propensity model's terms (z1..zk, R's model matrix without the intercept).
# As MatchIt's "Estimating effects" vignette: the outcome model on the matched sample with the
# weights (glm quasibinomial for a 0/1 outcome, glm quasipoisson for a count, lm for a continuous
# one), predictions for the treated with and without treatment, the difference of their
# weighted means, and its standard error by the delta method with sandwich::vcovCL(~pair) for
# pairs and sandwich::vcovHC (HC3) otherwise; written out in base R (marginaleffects'
# avg_comparisons computes the same).
# Run: Rscript tests/inference/r/adjusted_reference.R  (writes adjusted_reference.csv)
suppressPackageStartupMessages(library(sandwich))
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
d <- read.csv(file.path(here, "adjusted_inputs.csv"))
outcomes <- list(employed = quasibinomial(), jobs = quasipoisson(), re78k = NULL)
rows <- list()
for (cs in unique(d$case)) {
  x <- d[d$case == cs, ]
  z <- grep("^z[0-9]+$", names(x), value = TRUE)
  for (y in names(outcomes)) {
    f <- reformulate(c("treat", z), response = y)
    fam <- outcomes[[y]]
    fit <- if (is.null(fam)) lm(f, data = x, weights = weights) else
      glm(f, data = x, weights = weights, family = fam,
                 control = glm.control(epsilon = 1e-12, maxit = 100))
    keep <- !is.na(coef(fit))
    V <- if (x$vcov[1] == "HC3") vcovHC(fit, type = "HC3") else vcovCL(fit, cluster = ~pair)
    tr <- x[x$treat == 1, ]
    X1 <- model.matrix(f, transform(tr, treat = 1))[, keep, drop = FALSE]
    X0 <- model.matrix(f, transform(tr, treat = 0))[, keep, drop = FALSE]
    b <- coef(fit)[keep]
    linkinv <- if (is.null(fam)) identity else fam$linkinv
    mueta <- if (is.null(fam)) function(e) rep(1, length(e)) else fam$mu.eta
    w <- tr$weights / sum(tr$weights)
    p1 <- sum(w * linkinv(X1 %*% b)); p0 <- sum(w * linkinv(X0 %*% b))
    J1 <- colSums(w * as.vector(mueta(X1 %*% b)) * X1)
    J0 <- colSums(w * as.vector(mueta(X0 %*% b)) * X0)
    J <- J1 - J0
    rows[[length(rows) + 1]] <- data.frame(
      case = cs, outcome = y, vcov = x$vcov[1], treated_mean = p1, comparison_mean = p0,
      difference = p1 - p0, se = sqrt(drop(t(J) %*% V %*% J)),
      comparison_se = sqrt(drop(t(J0) %*% V %*% J0)))
  }
}
out <- do.call(rbind, rows)
write.csv(out, file.path(here, "adjusted_reference.csv"), row.names = FALSE)
cat(sprintf("R %s, sandwich %s\n", getRversion(), packageVersion("sandwich")))
print(format(out, digits = 12), row.names = FALSE)
