"""Grid optimization of trading-strategy backtests on RQ workers (capability 10)."""
