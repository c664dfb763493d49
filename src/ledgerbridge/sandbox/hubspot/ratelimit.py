"""Rate limits: 10-second rolling burst, daily quota, and the search API's per-second limit."""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime

from fastapi.responses import JSONResponse

from .config import HubSpotSandboxConfig
from .errors import rate_limited


class RateLimiter:
    def __init__(self, config: HubSpotSandboxConfig) -> None:
        self.config = config
        self.reset()

    def reset(self) -> None:
        self.window: deque[float] = deque()
        self.search_window: deque[float] = deque()
        self.day = ""
        self.day_count = 0

    def _prune(self, window: deque[float], now: float, span: float) -> None:
        while window and window[0] <= now - span:
            window.popleft()

    def headers(self) -> dict[str, str]:
        cfg = self.config
        now = cfg.clock()
        self._prune(self.window, now, cfg.rate_limit_window_seconds)
        headers = {
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(
                int(cfg.rate_limit_window_seconds * 1000)
            ),
            "X-HubSpot-RateLimit-Max": str(cfg.rate_limit_burst),
            "X-HubSpot-RateLimit-Remaining": str(max(cfg.rate_limit_burst - len(self.window), 0)),
        }
        if cfg.rate_limit_daily:
            headers["X-HubSpot-RateLimit-Daily"] = str(cfg.rate_limit_daily)
            remaining = max(cfg.rate_limit_daily - self.day_count, 0)
            headers["X-HubSpot-RateLimit-Daily-Remaining"] = str(remaining)
        if cfg.search_rate_per_second:
            self._prune(self.search_window, now, 1.0)
            headers["X-HubSpot-RateLimit-Secondly"] = str(cfg.search_rate_per_second)
            headers["X-HubSpot-RateLimit-Secondly-Remaining"] = str(
                max(cfg.search_rate_per_second - len(self.search_window), 0)
            )
        return headers

    def check(self, is_search: bool) -> JSONResponse | None:
        """Count one request; return the 429 response when a limit is exceeded."""
        cfg = self.config
        now = cfg.clock()
        day = datetime.fromtimestamp(now, tz=UTC).strftime("%Y-%m-%d")
        if day != self.day:
            self.day, self.day_count = day, 0
        if cfg.rate_limit_daily and self.day_count >= cfg.rate_limit_daily:
            headers = {**self.headers(), "Retry-After": str(_seconds_to_midnight(now))}
            return rate_limited("DAILY", "You have reached your daily limit.", headers)
        if cfg.rate_limit_burst:
            self._prune(self.window, now, cfg.rate_limit_window_seconds)
            if len(self.window) >= cfg.rate_limit_burst:
                wait = self.window[0] + cfg.rate_limit_window_seconds - now
                headers = {**self.headers(), "Retry-After": str(max(int(wait) + 1, 1))}
                return rate_limited(
                    "TEN_SECONDLY_ROLLING",
                    "You have reached your ten_secondly_rolling limit.",
                    headers,
                )
        if is_search and cfg.search_rate_per_second:
            self._prune(self.search_window, now, 1.0)
            if len(self.search_window) >= cfg.search_rate_per_second:
                headers = {**self.headers(), "Retry-After": "1"}
                return rate_limited("SECONDLY", "You have reached your secondly limit.", headers)
            self.search_window.append(now)
        self.window.append(now)
        self.day_count += 1
        return None


def _seconds_to_midnight(now: float) -> int:
    return int(86400 - (now % 86400)) + 1


def injected_429(limiter: RateLimiter) -> JSONResponse:
    headers = {**limiter.headers(), "Retry-After": "1"}
    return rate_limited(
        "TEN_SECONDLY_ROLLING", "You have reached your ten_secondly_rolling limit.", headers
    )
