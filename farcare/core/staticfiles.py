"""Static files as production serves them, also for `make run` and a station's laptop.

After `collectstatic` every file has a fingerprinted name (`farcare.3f2a….css`) that WhiteNoise
serves with a cache lifetime of a year, and a gzip and a Brotli copy made once: a post behind a
64 kbit/s link fetches the stylesheet and the script once per release, compressed. Before
`collectstatic` (a station's first start, a test run) there is no manifest yet: the plain names
are used and WhiteNoise serves the apps' files as they are, rather than the page failing."""

from __future__ import annotations

from whitenoise.storage import CompressedManifestStaticFilesStorage


class FingerprintedStaticFilesStorage(CompressedManifestStaticFilesStorage):
    manifest_strict = False

    def stored_name(self, name: str) -> str:
        try:
            return str(super().stored_name(name))
        except ValueError:
            # Not collected yet: the file is served from its app under its own name.
            return name
