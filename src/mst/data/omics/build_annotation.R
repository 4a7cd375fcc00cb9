# Build-time data step for mst.omics (not run at run time; nothing is downloaded):
# writes the default gene-set collection (GO biological process, with every gene annotated
# to a term or to any of its descendants, as clusterProfiler's enrichGO uses GOALL) and the
# offline identifier map (Entrez <-> symbol <-> Ensembl) from Debian's Bioconductor
# annotation packages r-bioc-org.hs.eg.db and r-bioc-go.db.
#
# Usage: Rscript src/mst/data/omics/build_annotation.R [OUTDIR]   (default: this folder)
# Output: go_bp.gmt.gz, gene_ids.tsv.gz, annotation_meta.json (versions and source dates).
suppressPackageStartupMessages({
  library(AnnotationDbi)
  library(org.Hs.eg.db)
  library(GO.db)
})
args <- commandArgs(trailingOnly = TRUE)
here <- local({
  a <- commandArgs(trailingOnly = FALSE)
  f <- sub("^--file=", "", a[grep("^--file=", a)])
  if (length(f)) dirname(normalizePath(f)) else "."
})
outdir <- if (length(args) >= 1) args[1] else here
MIN_SIZE <- 5L     # smallest set shipped (the enrichment default minimum is 10)
MAX_SIZE <- 2000L  # largest set shipped (the enrichment default maximum is 500)

# ---- GO biological process, propagated to ancestors (GOALL), all evidence codes
m <- suppressMessages(AnnotationDbi::select(org.Hs.eg.db, keys = keys(org.Hs.eg.db, "GOALL"),
                                            keytype = "GOALL",
                                            columns = c("ENTREZID", "ONTOLOGYALL")))
m <- unique(m[m$ONTOLOGYALL == "BP" & !is.na(m$ENTREZID), c("GOALL", "ENTREZID")])
sets <- split(m$ENTREZID, m$GOALL)
sizes <- lengths(sets)
sets <- sets[sizes >= MIN_SIZE & sizes <= MAX_SIZE]
terms <- suppressMessages(AnnotationDbi::select(GO.db, keys = names(sets), keytype = "GOID",
                                                columns = "TERM"))
term <- setNames(terms$TERM, terms$GOID)[names(sets)]
term <- gsub("[\t\r\n]", " ", term)
ord <- order(names(sets))
lines <- vapply(ord, function(i) {
  g <- sets[[i]]
  g <- g[order(as.integer(g))]
  paste(c(names(sets)[i], term[i], g), collapse = "\t")
}, character(1))
con <- gzfile(file.path(outdir, "go_bp.gmt.gz"), "w")
writeLines(lines, con)
close(con)

# ---- identifier map: one row per Entrez gene x Ensembl gene (symbol and type per Entrez id)
g <- suppressMessages(AnnotationDbi::select(org.Hs.eg.db, keys = keys(org.Hs.eg.db),
                                            columns = c("SYMBOL", "ENSEMBL", "GENETYPE")))
g <- unique(g[order(as.integer(g$ENTREZID), g$ENSEMBL), c("ENTREZID", "SYMBOL", "ENSEMBL",
                                                          "GENETYPE")])
g[is.na(g)] <- ""
con <- gzfile(file.path(outdir, "gene_ids.tsv.gz"), "w")
writeLines(paste(c("entrez_id", "symbol", "ensembl_id", "gene_type"), collapse = "\t"), con)
writeLines(paste(g$ENTREZID, g$SYMBOL, g$ENSEMBL, g$GENETYPE, sep = "\t"), con)
close(con)

# ---- provenance
info <- org.Hs.eg_dbInfo()
val <- function(name) info$value[info$name == name]
q <- function(x) paste0("\"", x, "\"")
meta <- c(
  paste0("  \"r_version\": ", q(R.version.string)),
  paste0("  \"org_hs_eg_db\": ", q(as.character(packageVersion("org.Hs.eg.db")))),
  paste0("  \"go_db\": ", q(as.character(packageVersion("GO.db")))),
  paste0("  \"annotation_dbi\": ", q(as.character(packageVersion("AnnotationDbi")))),
  paste0("  \"entrez_gene_source_date\": ", q(val("EGSOURCEDATE"))),
  paste0("  \"go_source_date\": ", q(val("GOSOURCEDATE"))),
  paste0("  \"go_gene_source_date\": ", q(val("GOEGSOURCEDATE"))),
  paste0("  \"ensembl_source_date\": ", q(val("ENSOURCEDATE"))),
  paste0("  \"go_bp_sets\": ", length(sets)),
  paste0("  \"go_bp_min_size\": ", MIN_SIZE),
  paste0("  \"go_bp_max_size\": ", MAX_SIZE),
  paste0("  \"id_map_rows\": ", nrow(g))
)
writeLines(c("{", paste(meta, collapse = ",\n"), "}"), file.path(outdir, "annotation_meta.json"))
cat("wrote", length(sets), "GO BP sets and", nrow(g), "identifier rows to", outdir, "\n")
