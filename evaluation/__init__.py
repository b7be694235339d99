"""The evaluation suite: metrics over logged episodes, plots, reports and run comparisons."""
