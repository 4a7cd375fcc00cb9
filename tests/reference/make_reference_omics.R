# Reference values for mst.omics (issue 17): DESeq2 differential expression and the
# over-representation test, computed on the CSV/GMT files of tests/reference/data/omics/
# (the very files the Python tests read).
#
# Usage:  Rscript tests/reference/make_reference_omics.R [OUTDIR]   (default: tests/reference)
# Needs DESeq2 (Debian r-bioc-deseq2); the ORA part uses base R only (phyper, p.adjust).
# JSON is written by lib/json.R (17 significant digits; NA/NaN/Inf -> null).

suppressPackageStartupMessages(library(DESeq2))

args <- commandArgs(trailingOnly = TRUE)
script_dir <- local({
  a <- commandArgs(trailingOnly = FALSE)
  f <- sub("^--file=", "", a[grep("^--file=", a)])
  if (length(f)) dirname(normalizePath(f)) else "tests/reference"
})
source(file.path(script_dir, "lib", "json.R"))  # json(), to_json(), arr(), write_json()
outdir <- if (length(args) >= 1) args[1] else script_dir
datadir <- file.path(script_dir, "data", "omics")
dir.create(outdir, showWarnings = FALSE, recursive = TRUE)

meta <- list(r_version = R.version.string,
             deseq2 = as.character(packageVersion("DESeq2")))

# ---------------------------------------------------------------- DESeq2
de_case <- function(prefix, factor, test, ref, alpha = 0.05, lfc = 1, design = NULL) {
  counts <- as.matrix(read.csv(file.path(datadir, paste0(prefix, "_counts.csv")),
                               row.names = 1, check.names = FALSE))
  samples <- read.csv(file.path(datadir, paste0(prefix, "_samples.csv")),
                      stringsAsFactors = FALSE)
  samples[[factor]] <- relevel(factor(samples[[factor]]), ref = ref)
  if (is.null(design)) design <- paste("~", factor)
  for (v in setdiff(all.vars(as.formula(design)), factor)) {
    samples[[v]] <- factor(samples[[v]], levels = unique(samples[[v]]))
  }
  dds <- DESeqDataSetFromMatrix(counts, samples, as.formula(design))
  dds <- DESeq(dds, quiet = TRUE)
  res <- results(dds, contrast = c(factor, test, ref), alpha = alpha)
  md <- metadata(res)
  deg <- !is.na(res$padj) & res$padj <= alpha & abs(res$log2FoldChange) >= lfc
  list(meta = meta, design = design, contrast = c(factor, test, ref), alpha = alpha,
       lfc_threshold = lfc,
       samples = arr(colnames(dds)), size_factors = arr(unname(sizeFactors(dds))),
       gene_id = arr(rownames(res)), base_mean = arr(res$baseMean),
       log2fc = arr(res$log2FoldChange), lfc_se = arr(res$lfcSE), stat = arr(res$stat),
       pvalue = arr(res$pvalue), padj = arr(res$padj),
       dispersion = arr(unname(dispersions(dds))),
       filter_threshold = unname(md$filterThreshold), filter_theta = md$filterTheta,
       filter_num_rej = list(theta = arr(md$filterNumRej$theta),
                             num_rej = arr(md$filterNumRej$numRej),
                             lowess = arr(md$lo.fit$y)),
       n_up = sum(deg & res$log2FoldChange > 0), n_down = sum(deg & res$log2FoldChange < 0),
       deg = arr(rownames(res)[deg]))
}
write_json(de_case("example", "condition", "B", "A"), "ref_omics_de_example.json")
write_json(de_case("sim4v2", "condition", "MST", "healthy"), "ref_omics_de_sim4v2.json")
write_json(de_case("sim4v4batch", "condition", "MST", "healthy", design = "~ batch + condition"),
           "ref_omics_de_sim4v4batch.json")

# ---------------------------------------------------------------- R lowess (independent filtering)
set.seed(17)
lx <- sort(runif(60))
ly <- sin(6 * lx) + rnorm(60, sd = 0.3)
ly[c(7, 30)] <- ly[c(7, 30)] + 3  # outliers for the robustness iterations
write_json(list(meta = meta, x = arr(lx), y = arr(ly),
                fit_f02 = arr(lowess(lx, ly, f = 0.2)$y),
                fit_f067 = arr(lowess(lx, ly)$y),
                fit_iter0 = arr(lowess(lx, ly, f = 0.3, iter = 0)$y)),
           "ref_omics_lowess.json")

# ---------------------------------------------------------------- over-representation
con <- gzfile(file.path(datadir, "ora_sets.gmt.gz"))
lines <- readLines(con)
close(con)
parts <- strsplit(lines, "\t", fixed = TRUE)
sets <- lapply(parts, function(p) unique(p[-(1:2)]))
names(sets) <- vapply(parts, `[`, character(1), 1)
universe <- unique(readLines(file.path(datadir, "ora_universe.txt")))
genes <- unique(readLines(file.path(datadir, "ora_genes.txt")))
ora <- function(min_size, max_size) {
  uni <- intersect(universe, unique(unlist(sets)))
  q <- intersect(genes, uni)
  M <- vapply(sets, function(s) length(intersect(s, uni)), integer(1))
  k <- vapply(sets, function(s) length(intersect(s, q)), integer(1))
  keep <- M >= min_size & M <= max_size & k > 0
  N <- length(uni); n <- length(q)
  p <- phyper(k[keep] - 1, M[keep], N - M[keep], n, lower.tail = FALSE)
  list(term = arr(names(sets)[keep]), overlap = arr(k[keep]), set_size = arr(M[keep]),
       query_size = n, universe_size = N, pvalue = arr(unname(p)),
       padj = arr(p.adjust(unname(p), method = "BH")))
}
write_json(list(meta = meta, default = ora(10, 500), narrow = ora(15, 200)),
           "ref_omics_ora.json")
