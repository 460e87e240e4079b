# Reference standard errors for jdl.inference.weighted_difference (tests/inference/test_r_reference.py).
# Input: se_inputs.csv (tests/inference/r/export_se_inputs.py): matched samples from jdl with
# MatchIt's weights, pair ids and person ids, and the vcov the lab's rule chose for each.
# As MatchIt's "Estimating effects" vignette: lm(y ~ treat, weights = weights) with
# sandwich::vcovCL (cluster = ~pair, ~pair + person, ~person) or sandwich::vcovHC (HC3).
# Run: Rscript tests/inference/r/se_reference.R  (R 4.x, sandwich 3.x; writes se_reference.csv)
suppressPackageStartupMessages(library(sandwich))
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
d <- read.csv(file.path(here, "se_inputs.csv"))
out <- do.call(rbind, lapply(split(d, d$case), function(x) {
  fit <- lm(y ~ treat, data = x, weights = weights)
  v <- switch(x$vcov[1],
    "HC3" = vcovHC(fit, type = "HC3"),
    "pair membership" = vcovCL(fit, cluster = ~pair),
    "person" = vcovCL(fit, cluster = ~person),
    "pair membership+person" = vcovCL(fit, cluster = ~pair + person),
    stop("unknown vcov ", x$vcov[1]))
  data.frame(case = x$case[1], vcov = x$vcov[1], estimate = unname(coef(fit)["treat"]),
             se = sqrt(v["treat", "treat"]))
}))
write.csv(out, file.path(here, "se_reference.csv"), row.names = FALSE)
cat(sprintf("R %s, sandwich %s\n", getRversion(), packageVersion("sandwich")))
print(format(out, digits = 15), row.names = FALSE)
