# JSON writer shared by the reference scripts tests/reference/make_reference*.R.
# Sourced by them, never run on its own (.ci/run runs tests/reference/*.R, not lib/).
# Base R only, so jsonlite is not needed. Numbers keep 17 significant digits; NA, NaN and
# Inf become null. Strings and keys escape the double quote.
#
# One recursive writer, three layouts (each script keeps the layout its committed JSON has):
#   json(x)                     compact: {"a":1,"b":[1,2]}. A length-1 vector is a scalar
#                               unless marked with arr(x); a matrix is written flat
#                               (column-major) like any vector.
#   to_json(x)                  spaced: {"a": [1], "b": [1, 2]}. Every vector is an array;
#                               a matrix is a list of its rows.
#   to_json(x, unbox = TRUE)    spaced; a length-1 vector without names is a scalar and a
#                               named vector is an object {"name": value, ...}.
# write_json(obj, name, writer) writes writer(obj) to file.path(outdir, name) (`outdir` is
# the calling script's output folder) and reports the path.

json_num <- function(x) ifelse(is.finite(x), sprintf("%.17g", x), "null")
json_str <- function(x) ifelse(is.na(x), "null", paste0("\"", gsub("\"", "\\\\\"", x), "\""))

json_value <- function(x, layout) {
  spaced <- layout != "compact"
  sep <- if (spaced) ", " else ","
  colon <- if (spaced) ": " else ":"
  obj <- function(keys, values) {
    paste0("{", paste(paste0(json_str(keys), colon, values), collapse = sep), "}")
  }
  if (is.null(x)) return("null")
  if (is.list(x)) {
    inner <- vapply(x, json_value, character(1), layout = layout, USE.NAMES = FALSE)
    if (is.null(names(x))) return(paste0("[", paste(inner, collapse = sep), "]"))
    return(obj(names(x), inner))
  }
  if (spaced && is.matrix(x)) {
    return(json_value(lapply(seq_len(nrow(x)), function(i) unname(x[i, ])), layout))
  }
  if (is.factor(x)) x <- as.character(x)
  s <- if (is.character(x)) {
    json_str(x)
  } else if (is.logical(x)) {
    ifelse(is.na(x), "null", ifelse(x, "true", "false"))
  } else {
    json_num(as.double(x))
  }
  if (layout == "compact" && length(x) == 1 && is.null(attr(x, "as_array"))) return(s)
  if (layout == "unboxed") {
    if (length(x) == 1 && is.null(names(x))) return(s)
    if (!is.null(names(x))) return(obj(names(x), s))
  }
  paste0("[", paste(s, collapse = sep), "]")
}

json <- function(x) json_value(x, "compact")
to_json <- function(x, unbox = FALSE) json_value(x, if (unbox) "unboxed" else "arrays")
arr <- function(x) { attr(x, "as_array") <- TRUE; x }   # force a JSON array even for length 1

write_json <- function(obj, name, writer = json) {
  path <- file.path(outdir, name)
  writeLines(writer(obj), path)
  cat("wrote", path, "\n")
}
