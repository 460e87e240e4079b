# Reference two-way standard errors on get_matches() rows after matching with replacement
# (MatchIt's "Estimating effects" vignette: lm(y ~ treat, weights) on get_matches() output with
# sandwich::vcovCL(cluster = ~subclass + id)). Input: matches_inputs.csv
# (tests/inference/r/export_matches_inputs.py). Run: Rscript tests/inference/r/matches_reference.R
suppressPackageStartupMessages(library(sandwich))
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
d <- read.csv(file.path(here, "matches_inputs.csv"))
out <- do.call(rbind, lapply(split(d, d$case), function(x) {
  fit <- lm(y ~ treat, data = x, weights = weights)
  two <- vcovCL(fit, cluster = ~matched_set + person)
  one <- vcovCL(fit, cluster = ~matched_set)
  data.frame(case = x$case[1], estimate = unname(coef(fit)["treat"]),
             se_set_person = sqrt(two["treat", "treat"]), se_set = sqrt(one["treat", "treat"]))
}))
write.csv(out, file.path(here, "matches_reference.csv"), row.names = FALSE)
cat(sprintf("R %s, sandwich %s\n", getRversion(), packageVersion("sandwich")))
print(format(out, digits = 15), row.names = FALSE)
