"""Donor selection for HLA-mismatched MST: HLA, mismatch direction, DSA, KIR, DPB1 TCE, ranking.

Typings are compared as sets at the antigen-recognition-domain level (P/G groups,
NMDP/WMDA convention). Reference data: IPD-IMGT/HLA release 3.58.0 (shipped,
offline), the KIR-ligand table derived from its protein sequences, and the
IPD-IMGT/HLA DPB1 TCE table (3.60.0). See ``docs/donors.md``.
"""

from mst.donors.ard import ard_key
from mst.donors.case import DonorCase, load_case
from mst.donors.dpb1 import TceResult, classify_groups, dpb1_permissiveness, tce_group
from mst.donors.dsa import Antibody, CrossmatchResult, grade_mfi, parse_antibody, virtual_crossmatch
from mst.donors.family import HaploCheck, haploidentity
from mst.donors.kir import (
    KirLigands,
    KirProfile,
    LigandMismatch,
    kir_ligands,
    kir_profile,
    ligand_mismatch_gvh,
    parse_kir_genotype,
)
from mst.donors.mismatch import (
    LOCI_10,
    LOCI_12,
    LocusMismatch,
    MismatchReport,
    Range,
    compare,
    hla_mismatch_counts,
)
from mst.donors.nomenclature import Allele, HlaTyping, LocusTyping, parse_allele, parse_gl
from mst.donors.ranking import DonorAssessment, Ranking, hla_identical, rank_case
from mst.donors.reference import imgt_release
from mst.donors.settings import SelectionSettings, default_settings, settings_from_dict

__all__ = [
    "LOCI_10",
    "LOCI_12",
    "Allele",
    "Antibody",
    "CrossmatchResult",
    "DonorAssessment",
    "DonorCase",
    "HaploCheck",
    "HlaTyping",
    "KirLigands",
    "KirProfile",
    "LigandMismatch",
    "LocusMismatch",
    "LocusTyping",
    "MismatchReport",
    "Range",
    "Ranking",
    "SelectionSettings",
    "TceResult",
    "ard_key",
    "classify_groups",
    "compare",
    "default_settings",
    "dpb1_permissiveness",
    "grade_mfi",
    "haploidentity",
    "hla_identical",
    "hla_mismatch_counts",
    "imgt_release",
    "kir_ligands",
    "kir_profile",
    "ligand_mismatch_gvh",
    "load_case",
    "parse_allele",
    "parse_antibody",
    "parse_gl",
    "parse_kir_genotype",
    "rank_case",
    "settings_from_dict",
    "tce_group",
    "virtual_crossmatch",
]
