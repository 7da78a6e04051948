"""The paper's printed numbers (arXiv 2501.15183): Tables 1, 2, 4 and 5, Table 2's p-values and row names,
and the trends Sec. 4.6 states for Fig. 7. Copied as printed; nothing here is computed."""

#: Table 2 of the paper (test R@10, R@20, N@10, N@20), every row; keys ``(row, dataset)`` where ``row`` is
#: the lower-case model name (``"dns"`` is the paper's DNS(M,N), ``"neggen"`` its NegGen).
PAPER_TABLE2 = {
    ("bpr", "baby"): (0.0359, 0.0572, 0.0193, 0.0244),
    ("bpr", "beauty"): (0.0568, 0.0953, 0.0274, 0.0311),
    ("bpr", "clothing"): (0.0207, 0.0302, 0.0114, 0.0137),
    ("bpr", "sports"): (0.0431, 0.0650, 0.0238, 0.0297),
    ("lightgcn", "baby"): (0.0458, 0.0698, 0.0236, 0.0309),
    ("lightgcn", "beauty"): (0.0676, 0.1041, 0.0403, 0.0519),
    ("lightgcn", "clothing"): (0.0328, 0.0504, 0.0184, 0.0226),
    ("lightgcn", "sports"): (0.0547, 0.0819, 0.0305, 0.0381),
    ("irgan", "baby"): (0.0441, 0.0673, 0.0268, 0.0322),
    ("irgan", "beauty"): (0.0569, 0.0951, 0.0379, 0.0484),
    ("irgan", "clothing"): (0.0312, 0.0481, 0.0186, 0.0245),
    ("irgan", "sports"): (0.0477, 0.0715, 0.0322, 0.0390),
    ("mixgcf", "baby"): (0.0456, 0.0691, 0.0281, 0.0341),
    ("mixgcf", "beauty"): (0.0617, 0.0978, 0.0406, 0.0557),
    ("mixgcf", "clothing"): (0.0321, 0.0492, 0.0199, 0.0277),
    ("mixgcf", "sports"): (0.0529, 0.0773, 0.0339, 0.0435),
    ("dens", "baby"): (0.0451, 0.0708, 0.0287, 0.0350),
    ("dens", "beauty"): (0.0629, 0.0988, 0.0415, 0.0568),
    ("dens", "clothing"): (0.0326, 0.0501, 0.0204, 0.0282),
    ("dens", "sports"): (0.0537, 0.0784, 0.0343, 0.0446),
    ("dns", "baby"): (0.0457, 0.0725, 0.0290, 0.0358),
    ("dns", "beauty"): (0.0628, 0.0986, 0.0417, 0.0566),
    ("dns", "clothing"): (0.0328, 0.0510, 0.0211, 0.0286),
    ("dns", "sports"): (0.0540, 0.0785, 0.0337, 0.0431),
    ("ahns", "baby"): (0.0465, 0.0737, 0.0292, 0.0361),
    ("ahns", "beauty"): (0.0635, 0.0992, 0.0426, 0.0572),
    ("ahns", "clothing"): (0.0335, 0.0528, 0.0237, 0.0291),
    ("ahns", "sports"): (0.0554, 0.0851, 0.0352, 0.0462),
    ("vbpr", "baby"): (0.0412, 0.0637, 0.0203, 0.0251),
    ("vbpr", "beauty"): (0.0637, 0.1002, 0.0371, 0.0471),
    ("vbpr", "clothing"): (0.0283, 0.0411, 0.0156, 0.0189),
    ("vbpr", "sports"): (0.0558, 0.0853, 0.0298, 0.0375),
    ("mmgcn", "baby"): (0.0441, 0.0685, 0.0192, 0.0264),
    ("mmgcn", "beauty"): (0.0628, 0.1005, 0.0341, 0.0459),
    ("mmgcn", "clothing"): (0.0227, 0.0360, 0.0121, 0.0154),
    ("mmgcn", "sports"): (0.0380, 0.0631, 0.0201, 0.0272),
    ("bm3", "baby"): (0.0542, 0.0873, 0.0296, 0.0365),
    ("bm3", "beauty"): (0.0728, 0.1187, 0.0425, 0.0567),
    ("bm3", "clothing"): (0.0451, 0.0672, 0.0242, 0.0297),
    ("bm3", "sports"): (0.0663, 0.0981, 0.0354, 0.0438),
    ("freedom", "baby"): (0.0614, 0.0973, 0.0306, 0.0398),
    ("freedom", "beauty"): (0.0771, 0.1247, 0.0441, 0.0579),
    ("freedom", "clothing"): (0.0617, 0.0904, 0.0317, 0.0409),
    ("freedom", "sports"): (0.0714, 0.1073, 0.0368, 0.0457),
    ("dragon", "baby"): (0.0643, 0.0996, 0.0325, 0.0412),
    ("dragon", "beauty"): (0.0792, 0.1256, 0.0455, 0.0584),
    ("dragon", "clothing"): (0.0621, 0.0915, 0.0322, 0.0418),
    ("dragon", "sports"): (0.0732, 0.1085, 0.0389, 0.0482),
    ("diffmm", "baby"): (0.0625, 0.0971, 0.0306, 0.0401),
    ("diffmm", "beauty"): (0.0783, 0.1249, 0.0447, 0.0579),
    ("diffmm", "clothing"): (0.0622, 0.0907, 0.0313, 0.0397),
    ("diffmm", "sports"): (0.0715, 0.1043, 0.0350, 0.0431),
    ("lgmrec", "baby"): (0.0631, 0.1002, 0.0327, 0.0422),
    ("lgmrec", "beauty"): (0.0781, 0.1243, 0.0448, 0.0578),
    ("lgmrec", "clothing"): (0.0531, 0.0817, 0.0296, 0.0364),
    ("lgmrec", "sports"): (0.0723, 0.1066, 0.0385, 0.0477),
    ("neggen", "baby"): (0.0701, 0.1065, 0.0342, 0.0438),
    ("neggen", "beauty"): (0.0823, 0.1285, 0.0473, 0.0604),
    ("neggen", "clothing"): (0.0654, 0.0961, 0.0350, 0.0441),
    ("neggen", "sports"): (0.0763, 0.1114, 0.0411, 0.0506),
}

#: Table 2's last row: p-values of paired t-tests of NegGen against *the best baseline* (R@10, R@20, N@10, N@20).
PAPER_TABLE2_PVALUES = {
    "baby": (0.0093, 0.0080, 0.0028, 0.0263),
    "beauty": (0.0221, 0.0101, 0.0017, 0.0003),
    "clothing": (0.0098, 0.0068, 0.0423, 0.0062),
    "sports": (0.0044, 0.0026, 0.0079, 0.0045),
}

#: Table 1 of the paper (FREEDOM with varying modalities; test R@10, R@20, N@10, N@20).
PAPER_TABLE1 = {
    ("baby", "V&T"): (0.0614, 0.0973, 0.0306, 0.0398),
    ("baby", "T"): (0.0643, 0.0991, 0.0323, 0.0411),
    ("baby", "V"): (0.0574, 0.0899, 0.0314, 0.0416),
    ("beauty", "V&T"): (0.0792, 0.1256, 0.0455, 0.0584),
    ("beauty", "T"): (0.0801, 0.1254, 0.0458, 0.0597),
    ("beauty", "V"): (0.0763, 0.1239, 0.0439, 0.0576),
}

#: The paper's names for the rows of Table 2.
PAPER_ROW_NAMES = {"bpr": "BPR", "lightgcn": "LightGCN", "irgan": "IRGAN", "mixgcf": "MixGCF", "dens": "DENS",
                   "dns": "DNS(M,N)", "ahns": "AHNS", "vbpr": "VBPR", "mmgcn": "MMGCN", "bm3": "BM3",
                   "freedom": "FREEDOM", "dragon": "DRAGON", "diffmm": "DiffMM", "lgmrec": "LGMRec",
                   "neggen": "NegGen"}
#: Table 4 (modalities; test R@10, R@20, N@10, N@20); keys ``(dataset, variant)``. Note: Beauty's V&T R@10
#: (0.0832) differs from NegGen's R@10 on Beauty in Table 2 (0.0823); both are copied as printed.
PAPER_TABLE4 = {
    ("baby", "V"): (0.0667, 0.0934, 0.0307, 0.0401),
    ("baby", "T"): (0.0678, 0.0956, 0.0327, 0.0412),
    ("baby", "V&T"): (0.0701, 0.1065, 0.0342, 0.0438),
    ("beauty", "V"): (0.0794, 0.1213, 0.0426, 0.0548),
    ("beauty", "T"): (0.0803, 0.1231, 0.0439, 0.0586),
    ("beauty", "V&T"): (0.0832, 0.1285, 0.0473, 0.0604),
    ("clothing", "V"): (0.0621, 0.0910, 0.0327, 0.0412),
    ("clothing", "T"): (0.0632, 0.0930, 0.0338, 0.0426),
    ("clothing", "V&T"): (0.0654, 0.0961, 0.0350, 0.0441),
    ("sports", "V"): (0.0667, 0.0940, 0.0336, 0.0415),
    ("sports", "T"): (0.0687, 0.1064, 0.0357, 0.0443),
    ("sports", "V&T"): (0.0763, 0.1114, 0.0411, 0.0506),
}

#: Table 5 (module ablation; test R@10, R@20, N@10, N@20); keys ``(dataset, variant)``, ``"full"`` = NegGen.
PAPER_TABLE5 = {
    ("baby", "w/o NEG"): (0.0571, 0.0896, 0.0307, 0.0401),
    ("baby", "w/o CF"): (0.0641, 0.0992, 0.0321, 0.0414),
    ("baby", "w/o both"): (0.0466, 0.0684, 0.0235, 0.0317),
    ("baby", "full"): (0.0701, 0.1065, 0.0342, 0.0438),
    ("beauty", "w/o NEG"): (0.0714, 0.1165, 0.0416, 0.0538),
    ("beauty", "w/o CF"): (0.0805, 0.1263, 0.0457, 0.0590),
    ("beauty", "w/o both"): (0.0682, 0.1083, 0.0402, 0.0531),
    ("beauty", "full"): (0.0832, 0.1285, 0.0473, 0.0604),
    ("clothing", "w/o NEG"): (0.0626, 0.0910, 0.0327, 0.0420),
    ("clothing", "w/o CF"): (0.0637, 0.0922, 0.0341, 0.0432),
    ("clothing", "w/o both"): (0.0336, 0.0531, 0.0187, 0.0232),
    ("clothing", "full"): (0.0654, 0.0961, 0.0350, 0.0441),
    ("sports", "w/o NEG"): (0.0627, 0.0940, 0.0336, 0.0415),
    ("sports", "w/o CF"): (0.0714, 0.1055, 0.0374, 0.0471),
    ("sports", "w/o both"): (0.0539, 0.0813, 0.0304, 0.0375),
    ("sports", "full"): (0.0763, 0.1114, 0.0411, 0.0506),
}

#: Fig. 7 gives no numbers in the text; these are the trends Sec. 4.6 states, quoted.
PAPER_FIG7_TRENDS = {
    "lam": ("performance improves as lambda increases from 0 to 0.4, but stabilizes or slightly declines when "
            "lambda > 0.6 [...] the optimal range for lambda is between 0.4 and 0.6. [...] setting lambda to 0 "
            "causes a significant performance drop"),
    "alpha": ("NegGen performs stably and robustly across a wide range of alpha values, from 1e-4 to 1. However, "
              "performance slightly degrades when alpha becomes too large"),
    "tau": ("Varying tau across [0.07, 0.1, 0.2, 0.3, 1], we find that smaller values generally lead to better "
            "performance. Specifically, when tau is set to 1, the logits distribution becomes overly smooth"),
}
