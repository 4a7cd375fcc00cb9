# Writes DESeq2's makeExampleDESeqDataSet data (fixed seed) as the committed CSV files that
# both tests/reference/make_reference_omics.R and the Python parity tests read.
# Run once:  Rscript tests/reference/data/omics/export_example.R tests/reference/data/omics
suppressPackageStartupMessages(library(DESeq2))
args <- commandArgs(trailingOnly = TRUE)
outdir <- if (length(args) >= 1) args[1] else "."
set.seed(20260117)
dds <- makeExampleDESeqDataSet(n = 1000, m = 12, betaSD = 1)
counts <- counts(dds)
write.csv(data.frame(gene_id = rownames(counts), counts, check.names = FALSE),
          file.path(outdir, "example_counts.csv"), row.names = FALSE, quote = FALSE)
write.csv(data.frame(sample_id = colnames(counts), condition = as.character(dds$condition)),
          file.path(outdir, "example_samples.csv"), row.names = FALSE, quote = FALSE)
cat("DESeq2", as.character(packageVersion("DESeq2")), "\n")
