include mk/e2e.mk
