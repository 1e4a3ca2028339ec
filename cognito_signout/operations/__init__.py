"""One module per operation: input, output, builders and error table."""
