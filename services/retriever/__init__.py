"""The retriever service: Nori-compatible analysis, BM25 search and training-set export."""
