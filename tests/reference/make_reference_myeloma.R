# Reference values for the myeloma report (issue 18): Kaplan-Meier (OS, PFS, duration of
# response at 12/36/72 months, medians), log-rank tests of OS by group, paired Wilcoxon and
# t-tests of the lymphocyte subsets, and the Clopper-Pearson interval of the overall response
# rate, computed with R `survival` and base `stats` on data/myeloma_demo.csv (the myeloma flat
# table of the demo cohort; the same file the Python test reads).
#
# Usage:  Rscript tests/reference/make_reference_myeloma.R [OUTDIR]   (default: tests/reference)

suppressPackageStartupMessages(library(survival))

args <- commandArgs(trailingOnly = TRUE)
script_dir <- local({
  a <- commandArgs(trailingOnly = FALSE)
  f <- sub("^--file=", "", a[grep("^--file=", a)])
  if (length(f)) dirname(normalizePath(f)) else "tests/reference"
})
source(file.path(script_dir, "lib", "json.R"))  # json(), to_json(), arr(), write_json()
outdir <- if (length(args) >= 1) args[1] else script_dir
dir.create(outdir, showWarnings = FALSE, recursive = TRUE)

d <- read.csv(file.path(script_dir, "data", "myeloma_demo.csv"), stringsAsFactors = FALSE,
              na.strings = c("", "NA"))
times <- c(12, 36, 72)

km <- function(time, event) {
  keep <- !is.na(time) & !is.na(event)
  fit <- survfit(Surv(time[keep], event[keep]) ~ 1, conf.type = "log-log")
  s <- summary(fit, times = times, extend = TRUE)
  q <- quantile(fit, probs = 0.5, conf.int = TRUE)
  list(n = sum(keep), events = sum(event[keep]), survival = arr(s$surv), lower = arr(s$lower),
       upper = arr(s$upper), n_risk = arr(s$n.risk), median = unname(q$quantile),
       median_lower = unname(q$lower), median_upper = unname(q$upper))
}

groups <- c("age_group", "iss", "ds_stage", "msmart", "pre_mst_status", "cycles_group")
logrank <- list()
for (g in groups) {
  sd <- survdiff(Surv(os_months, os_event) ~ d[[g]], data = d)
  df <- length(sd$n) - 1
  logrank[[g]] <- list(statistic = sd$chisq, df = df,
                       p = pchisq(sd$chisq, df, lower.tail = FALSE))
}

paired <- list()
for (k in c("cd3", "cd4", "cd4_cd8", "th0")) {
  pre <- d[[paste0(k, "_pre")]]
  post <- d[[paste0(k, "_post")]]
  keep <- !is.na(pre) & !is.na(post)
  w <- wilcox.test(post[keep], pre[keep], paired = TRUE)
  t <- t.test(post[keep], pre[keep], paired = TRUE)
  paired[[k]] <- list(n = sum(keep), V = unname(w$statistic), wilcox_p = w$p.value,
                      t = unname(t$statistic), t_df = unname(t$parameter), t_p = t$p.value)
}

orr <- as.logical(d$orr)
b <- binom.test(sum(orr, na.rm = TRUE), nrow(d))

out <- list(
  meta = list(r_version = R.version.string,
              survival = as.character(packageVersion("survival")),
              data = "data/myeloma_demo.csv"),
  km = list(os = km(d$os_months, d$os_event), pfs = km(d$pfs_months, d$pfs_event),
            dor = km(d$dor_months, d$dor_event)),
  logrank = logrank,
  paired = paired,
  orr = list(x = sum(orr, na.rm = TRUE), n = nrow(d), lower = b$conf.int[1],
             upper = b$conf.int[2])
)
write_json(out, "ref_myeloma.json")
