"""Movie retrieval: embeddings (`embedding`), the cached FAISS index (`index`), titles (`titles`).

Nothing heavy happens on import: the model, FAISS and the index load on first use through the
cached loaders `get_embedder()`, `get_movie_index()` and `get_title_matcher()`.
"""
