"""Human evaluation as the paper ran it (supplementary A.3): a blinded side-by-side questionnaire of two
systems (study.py, page.py), a local server that collects answers (serve.py), and their scoring (score.py)."""
