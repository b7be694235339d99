"""The local web page: chat with the recommender, browse rollout runs (served by langgraph dev)."""
