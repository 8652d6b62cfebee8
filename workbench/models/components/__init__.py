"""Parts shared by several models: preprocessing, patch embedding, coreset, nearest neighbours, maps."""
