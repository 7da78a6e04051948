"""Stage 3, the one training loop (``trainer``): BPR with Adam, early stopping on validation Recall@20,
checkpoints and resume (Sec. 4.1.4), for every model and sampler. Imports the stages below."""
