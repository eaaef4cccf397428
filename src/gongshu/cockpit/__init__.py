"""City cockpit (城市大脑驾驶舱): indicators, forecasts, alerts."""
