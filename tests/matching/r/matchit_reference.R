# Reference values from R's MatchIt 4.7.2 (built from its source) for tests/matching.
#
# Writes tests/matching/data/matchit_reference.json: for every specification, the matching weights, the match matrix (0-based rows, -1 = none) and
# subclasses as MatchIt returns them, or the error MatchIt raises. The Python tests compare
# jdl.matching.match() with these numbers; nothing here is computed by jdl.
#
# How to run (see tests/matching/r/README.md for building MatchIt 4.7.2 from source):
#   R_LIBS=/path/to/private/lib Rscript tests/matching/r/matchit_reference.R
# from the repository root. Data: tests/matching/data/lalonde.csv (MatchIt's lalonde) and
# tests/matching/data/ties.csv (tests/matching/r/make_ties.py: coarse covariates, many exact
# ties, people repeated across years).

suppressPackageStartupMessages(library(MatchIt))
stopifnot(packageVersion("MatchIt") >= "4.7.0")

lalonde <- read.csv("tests/matching/data/lalonde.csv")
ties <- read.csv("tests/matching/data/ties.csv")
dups <- read.csv("tests/matching/data/dups.csv")
lalonde_x100 <- transform(lalonde, re74 = re74 * 100, re75 = re75 * 100)
f_l <- treat ~ age + educ + race + married + nodegree + re74 + re75
f_t <- treat ~ age_band + priors + female + region + earnings
f_d <- treat ~ age + priors + female + region
data_sets <- list(lalonde = lalonde, ties = ties, lalonde_x100 = lalonde_x100, dups = dups)
formulas <- list(lalonde = f_l, ties = f_t, lalonde_x100 = f_l, dups = f_d)

# name, data, R arguments, and jdl's spelling of them (for the reader; the Python test
# tests/matching/test_matchit_reference.py holds its own copy)
specs <- list(
  list("L_mahal", "lalonde", list(distance = "mahalanobis"), list(distance = "mahalanobis")),
  list("L_mahal_replace", "lalonde", list(distance = "mahalanobis", replace = TRUE),
       list(distance = "mahalanobis", replace = TRUE)),
  list("L_mahal_ratio2", "lalonde", list(distance = "mahalanobis", ratio = 2),
       list(distance = "mahalanobis", ratio = 2)),
  list("L_mahal_replace_r3", "lalonde", list(distance = "mahalanobis", ratio = 3, replace = TRUE),
       list(distance = "mahalanobis", ratio = 3, replace = TRUE)),
  list("Lx100_mahal", "lalonde_x100", list(distance = "mahalanobis"),
       list(distance = "mahalanobis")),
  list("L_mahal_discard", "lalonde", list(distance = "mahalanobis", discard = "both"),
       list(distance = "mahalanobis", discard = "both")),
  list("L_mahvars_cal", "lalonde", list(mahvars = ~ age + educ + re74 + re75, caliper = 0.25),
       list(mahvars = c("age", "educ", "re74", "re75"), caliper = 0.25)),
  list("L_mahvars_discard", "lalonde", list(mahvars = ~ age + educ + re74 + re75, discard = "both"),
       list(mahvars = c("age", "educ", "re74", "re75"), discard = "both")),
  list("L_mahvars_replace_r2", "lalonde",
       list(mahvars = ~ age + educ + race + re74, replace = TRUE, ratio = 2),
       list(mahvars = c("age", "educ", "race", "re74"), replace = TRUE, ratio = 2)),
  list("L_sub_discard", "lalonde", list(method = "subclass", discard = "both", subclass = 6),
       list(method = "subclass", discard = "both", subclass = 6)),
  list("L_sub", "lalonde", list(method = "subclass", subclass = 6),
       list(method = "subclass", subclass = 6)),
  list("L_logit_cal", "lalonde", list(link = "linear.logit", caliper = 0.2),
       list(link = "linear.logit", caliper = 0.2)),
  list("L_logit_cal_r2_replace", "lalonde",
       list(link = "linear.logit", caliper = 0.2, ratio = 2, replace = TRUE),
       list(link = "linear.logit", caliper = 0.2, ratio = 2, replace = TRUE)),
  list("L_r3_replace", "lalonde", list(ratio = 3, replace = TRUE), list(ratio = 3, replace = TRUE)),
  list("L_r5_replace", "lalonde", list(ratio = 5, replace = TRUE), list(ratio = 5, replace = TRUE)),
  list("L_varratio", "lalonde", list(ratio = 2, min.controls = 1, max.controls = 4),
       list(ratio = 2, min_controls = 1, max_controls = 4)),
  list("L_varratio_replace", "lalonde",
       list(ratio = 2, min.controls = 1, max.controls = 4, replace = TRUE),
       list(ratio = 2, min_controls = 1, max_controls = 4, replace = TRUE)),
  list("L_covcal", "lalonde", list(caliper = c(age = 2, educ = 1), std.caliper = FALSE),
       list(caliper = list(age = 2, educ = 1), std_caliper = FALSE)),
  list("L_covcal_ps", "lalonde",
       list(caliper = c(0.2, age = 3, re74 = 0.5), std.caliper = c(TRUE, FALSE, TRUE)),
       list(caliper = list("0.2", age = 3, re74 = 0.5),
            std_caliper = list("TRUE", age = FALSE, re74 = TRUE))),
  list("L_covcal_replace_r2", "lalonde",
       list(caliper = c(age = 2), std.caliper = FALSE, replace = TRUE, ratio = 2),
       list(caliper = list(age = 2), std_caliper = FALSE, replace = TRUE, ratio = 2)),
  list("L_reuse2", "lalonde", list(reuse.max = 2), list(reuse_max = 2)),
  list("L_reuse3_r2", "lalonde", list(reuse.max = 3, ratio = 2), list(reuse_max = 3, ratio = 2)),
  list("T_mahal", "ties", list(distance = "mahalanobis"), list(distance = "mahalanobis")),
  list("T_mahal_replace", "ties", list(distance = "mahalanobis", replace = TRUE),
       list(distance = "mahalanobis", replace = TRUE)),
  list("T_mahal_ratio2", "ties", list(distance = "mahalanobis", ratio = 2),
       list(distance = "mahalanobis", ratio = 2)),
  list("T_mahal_replace_r3", "ties", list(distance = "mahalanobis", ratio = 3, replace = TRUE),
       list(distance = "mahalanobis", ratio = 3, replace = TRUE)),
  list("T_mahal_exact", "ties", list(distance = "mahalanobis", exact = ~ year),
       list(distance = "mahalanobis", exact = c("year"))),
  list("T_mahal_unit", "ties", list(distance = "mahalanobis", unit.id = ~ person),
       list(distance = "mahalanobis", unit_id = "person")),
  list("T_mahal_exact_unit", "ties",
       list(distance = "mahalanobis", exact = ~ year, unit.id = ~ person),
       list(distance = "mahalanobis", exact = c("year"), unit_id = "person")),
  list("T_unit", "ties", list(unit.id = ~ person), list(unit_id = "person")),
  list("T_unit_ratio2", "ties", list(unit.id = ~ person, ratio = 2),
       list(unit_id = "person", ratio = 2)),
  list("T_unit_replace", "ties", list(unit.id = ~ person, replace = TRUE),
       list(unit_id = "person", replace = TRUE)),
  list("T_unit_reuse2", "ties", list(unit.id = ~ person, reuse.max = 2),
       list(unit_id = "person", reuse_max = 2)),
  list("T_unit_exact_cal", "ties", list(unit.id = ~ person, exact = ~ year, caliper = 0.2),
       list(unit_id = "person", exact = c("year"), caliper = 0.2)),
  list("T_reuse2", "ties", list(reuse.max = 2), list(reuse_max = 2)),
  list("T_reuse2_r3", "ties", list(reuse.max = 2, ratio = 3), list(reuse_max = 2, ratio = 3)),
  list("T_ratio2_replace", "ties", list(ratio = 2, replace = TRUE), list(ratio = 2, replace = TRUE)),
  list("T_ratio4_replace_cal", "ties", list(ratio = 4, replace = TRUE, caliper = 0.1),
       list(ratio = 4, replace = TRUE, caliper = 0.1)),
  list("T_mahvars", "ties", list(mahvars = ~ age_band + priors, caliper = 0.3),
       list(mahvars = c("age_band", "priors"), caliper = 0.3)),
  list("T_mahvars_exact", "ties", list(mahvars = ~ age_band + priors + region, exact = ~ year),
       list(mahvars = c("age_band", "priors", "region"), exact = c("year"))),
  list("T_covcal_r2", "ties", list(caliper = c(age_band = 1), std.caliper = FALSE, ratio = 2),
       list(caliper = list(age_band = 1), std_caliper = FALSE, ratio = 2)),
  list("T_covcal_exact", "ties", list(caliper = c(0.5, priors = 1), std.caliper = c(TRUE, FALSE),
                                      exact = ~ year),
       list(caliper = list("0.5", priors = 1), std_caliper = list("TRUE", priors = FALSE),
            exact = c("year"))),
  list("T_varratio", "ties", list(ratio = 2, max.controls = 3),
       list(ratio = 2, max_controls = 3)),
  list("T_varratio_replace", "ties", list(ratio = 2, min.controls = 1, max.controls = 5,
                                          replace = TRUE),
       list(ratio = 2, min_controls = 1, max_controls = 5, replace = TRUE)),
  list("D_mahal", "dups", list(distance = "mahalanobis"), list(distance = "mahalanobis")),
  list("D_mahal_replace", "dups", list(distance = "mahalanobis", replace = TRUE),
       list(distance = "mahalanobis", replace = TRUE)),
  list("D_mahal_ratio2", "dups", list(distance = "mahalanobis", ratio = 2),
       list(distance = "mahalanobis", ratio = 2)),
  list("D_mahal_replace_r3", "dups", list(distance = "mahalanobis", ratio = 3, replace = TRUE),
       list(distance = "mahalanobis", ratio = 3, replace = TRUE)),
  list("D_mahal_exact", "dups", list(distance = "mahalanobis", exact = ~ year),
       list(distance = "mahalanobis", exact = c("year"))),
  list("D_mahal_unit", "dups", list(distance = "mahalanobis", unit.id = ~ person),
       list(distance = "mahalanobis", unit_id = "person")),
  list("D_mahal_reuse2", "dups", list(distance = "mahalanobis", reuse.max = 2),
       list(distance = "mahalanobis", reuse_max = 2)),
  list("D_mahvars", "dups", list(mahvars = ~ age + priors + region, caliper = 0.5),
       list(mahvars = c("age", "priors", "region"), caliper = 0.5)),
  list("D_mahvars_exact_r2", "dups", list(mahvars = ~ age + priors, exact = ~ year, ratio = 2),
       list(mahvars = c("age", "priors"), exact = c("year"), ratio = 2)),
  list("D_mahvars_covcal", "dups", list(mahvars = ~ age + priors, caliper = c(age = 5),
                                        std.caliper = FALSE),
       list(mahvars = c("age", "priors"), caliper = list(age = 5), std_caliper = FALSE)),
  list("D_mahal_exact_sparse", "dups", list(distance = "mahalanobis", exact = ~ priors + female + region),
       list(distance = "mahalanobis", exact = c("priors", "female", "region"))),
  list("D_mahvars_exact_sparse", "dups", list(mahvars = ~ age + female, exact = ~ age + priors,
                                              caliper = 0.5),
       list(mahvars = c("age", "female"), exact = c("age", "priors"), caliper = 0.5)),
  list("D_nearest", "dups", list(), list()),
  list("D_unit_r2", "dups", list(unit.id = ~ person, ratio = 2),
       list(unit_id = "person", ratio = 2)),
  list("T_sub_discard", "ties", list(method = "subclass", discard = "both", subclass = 5),
       list(method = "subclass", discard = "both", subclass = 5))
)

num_list <- function(x) unname(as.list(as.numeric(x)))

run_spec <- function(s) {
  name <- s[[1]]; ds <- s[[2]]; rargs <- s[[3]]
  d <- data_sets[[ds]]
  out <- list(name = name, data = ds)
  m <- tryCatch(do.call(matchit, c(list(formula = formulas[[ds]], data = d), rargs)),
                error = function(e) e)
  if (inherits(m, "error")) {
    out$error <- conditionMessage(m)
    return(out)
  }
  out$weights <- num_list(m$weights)
  if (!is.null(m$match.matrix)) {
    mm <- m$match.matrix
    idx <- matrix(match(mm, rownames(d)) - 1L, nrow = nrow(mm))
    idx[is.na(idx)] <- -1L
    out$match_matrix <- lapply(seq_len(nrow(idx)), function(i) as.integer(idx[i, ]))
  }
  if (!is.null(m$subclass)) {
    sc <- as.integer(m$subclass) - 1L
    sc[is.na(sc)] <- -1L
    out$subclass <- as.list(sc)
  }
  if (!is.null(m$q.cut)) out$q_cut <- num_list(m$q.cut)
  # as text with 17 significant digits: exactly R's doubles (JSON numbers keep 15)
  if (!is.null(m$distance)) out$distance <- as.list(sprintf("%.17g", m$distance))
  if (!is.null(m$caliper)) out$caliper <- as.list(m$caliper)
  out$discarded <- as.list(as.logical(m$discarded))
  sm <- summary(m, addlvariables = if (ds == "ties") ~ flag + level else NULL)
  tab <- function(x) lapply(seq_len(nrow(x)), function(i) c(list(row = rownames(x)[i]),
                                                            as.list(x[i, 1:6])))
  out$sum_all <- tab(sm$sum.all)
  # after matching; for subclassification MatchIt's "across subclasses" table
  across <- if (!is.null(sm$sum.matched)) sm$sum.matched else sm$sum.across
  out$sum_matched <- if (!is.null(across)) tab(across) else NULL
  y <- if (ds %in% c("ties", "dups")) d$y else d$re78
  w <- m$weights; t <- d$treat == 1
  out$att <- weighted.mean(y[t], w[t]) - weighted.mean(y[!t], w[!t])
  out
}

set.seed(1)
res <- lapply(specs, run_spec)
names(res) <- vapply(specs, `[[`, "", 1)
meta <- list(R = R.version.string, MatchIt = as.character(packageVersion("MatchIt")),
             chk = as.character(packageVersion("chk")), rlang = as.character(packageVersion("rlang")))
jsonlite::write_json(list(meta = meta, specs = res), "tests/matching/data/matchit_reference.json",
                     auto_unbox = TRUE, digits = NA, null = "null", na = "null")
for (r in res) cat(sprintf("%-24s %s\n", r$name,
                           if (!is.null(r$error)) paste("ERROR:", r$error) else
                             sprintf("ATT %.6f  matched t %d c %d", r$att,
                                     sum(unlist(r$weights) > 0 & (data_sets[[r$data]]$treat == 1)),
                                     sum(unlist(r$weights) > 0 & (data_sets[[r$data]]$treat == 0)))))
