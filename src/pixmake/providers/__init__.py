"""Image providers behind one small async interface (see `base.py`)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from pixmake.errors import UsageError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from pixmake.providers.base import ImageProvider
    from pixmake.spec.values import ProviderConfig
    from pixmake.store import Store


def make_provider(
    name: str,
    store: Store | None = None,
    config: ProviderConfig | None = None,
    environ: Mapping[str, str] | None = None,
) -> ImageProvider:
    """The provider called `name`, ready to use. Raises MissingKeyError or UsageError."""
    if name == "placeholder":
        from pixmake.providers.placeholder import PlaceholderProvider

        return PlaceholderProvider()
    if name == "runware":
        from pixmake.providers import runware
        from pixmake.providers.window import Window

        env = os.environ if environ is None else environ
        key = runware.api_key_from(env)
        fixed = config.concurrency if config and isinstance(config.concurrency, int) else None
        method = config.method if config else "async"
        return runware.RunwareProvider(
            key,
            env.get(runware.URL_VARIABLE) or runware.DEFAULT_BASE_URL,
            uploads=store.uploads() if store is not None else None,
            delivery=method,
            http=runware.HttpSettings().for_delivery(method, fixed) if fixed else None,
            output=config.output if config else "url",
            webhook_url=config.webhook_url if config else None,
            upload_endpoint=config.upload_endpoint if config else None,
            references=config.references if config else "upload",
            retry=runware.RetryPolicy(base=config.retry_backoff) if config else None,
            poll=runware.PollPolicy(first=config.poll_interval) if config else None,
            window=Window() if config is None or config.concurrency == "auto" else None,
        )
    raise UsageError(f"unknown provider `{name}`; use runware or placeholder")
