"""``airflow.io.path.ObjectStoragePath`` (``airflow.sdk.ObjectStoragePath``): a path on any
file system fsspec knows (``file://``, ``s3://``, ``gs://``, ``memory://`` ...).

The path's methods are those of :class:`pathlib.Path` that DAG code uses (``/``, ``open``,
``read_text``, ``write_bytes``, ``exists``, ``mkdir``, ``iterdir``, ``glob``, ``unlink``,
``copy``, ``move`` ...), run by the scheme's fsspec file system. ``conn_id`` names a
millstream connection whose extra gives the file system's options (``storage_options``
for fsspec), as Airflow takes them from the connection. Needs ``fsspec`` (in the
``airflow`` extra) and, for a remote scheme, its package (``s3fs``, ``gcsfs`` ...).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit


def _filesystem(protocol: str, conn_id: str | None, options: dict[str, Any]) -> Any:
    try:
        import fsspec
    except ImportError:
        raise ImportError(
            "ObjectStoragePath needs fsspec: pip install 'millstream[airflow]'") from None
    settings = dict(options)
    if conn_id is not None:
        from millstream.secrets.connection import Connection

        settings = {**Connection.get_connection_from_secrets(conn_id).extra_dejson, **settings}
    return fsspec.filesystem(protocol, **settings)


class ObjectStoragePath:
    """A path on an fsspec file system (see the module)."""

    def __init__(self, url: str | ObjectStoragePath, *, conn_id: str | None = None,
                 **storage_options: Any) -> None:
        if isinstance(url, ObjectStoragePath):
            conn_id = conn_id or url.conn_id
            storage_options = {**url.storage_options, **storage_options}
            url = str(url)
        parts = urlsplit(url)
        self.protocol = parts.scheme or "file"
        self.conn_id = conn_id
        self.storage_options = storage_options
        if self.protocol == "file":
            self.path = parts.path if parts.scheme else url
        else:
            self.path = f"{parts.netloc}{parts.path}"
        self._fs: Any = None

    @property
    def fs(self) -> Any:
        """The fsspec file system (made on first use)."""
        if self._fs is None:
            self._fs = _filesystem(self.protocol, self.conn_id, self.storage_options)
        return self._fs

    def _child(self, path: str) -> ObjectStoragePath:
        found = ObjectStoragePath(f"{self.protocol}://{path}" if self.protocol != "file"
                                  else path, conn_id=self.conn_id, **self.storage_options)
        found._fs = self._fs
        return found

    # -- names ---------------------------------------------------------------------------------
    def __truediv__(self, other: str) -> ObjectStoragePath:
        return self._child(posixpath.join(self.path, str(other)))

    def joinpath(self, *others: str) -> ObjectStoragePath:
        return self._child(posixpath.join(self.path, *map(str, others)))

    @property
    def name(self) -> str:
        return posixpath.basename(self.path.rstrip("/"))

    @property
    def stem(self) -> str:
        return posixpath.splitext(self.name)[0]

    @property
    def suffix(self) -> str:
        return posixpath.splitext(self.name)[1]

    @property
    def parent(self) -> ObjectStoragePath:
        return self._child(posixpath.dirname(self.path.rstrip("/")))

    @property
    def bucket(self) -> str:
        return "" if self.protocol == "file" else self.path.split("/", 1)[0]

    @property
    def key(self) -> str:
        return self.path if self.protocol == "file" else self.path.partition("/")[2]

    def __str__(self) -> str:
        return self.path if self.protocol == "file" else f"{self.protocol}://{self.path}"

    def __fspath__(self) -> str:
        if self.protocol != "file":
            raise TypeError(f"{self} is not a local path")
        return self.path

    def __repr__(self) -> str:
        return f"ObjectStoragePath({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ObjectStoragePath) and str(other) == str(self)

    def __hash__(self) -> int:
        return hash(str(self))

    # -- the file system -----------------------------------------------------------------------
    def open(self, mode: str = "rb", **kwargs: Any) -> Any:
        return self.fs.open(self.path, mode, **kwargs)

    def read_bytes(self) -> bytes:
        return bytes(self.fs.cat_file(self.path))

    def read_text(self, encoding: str = "utf-8") -> str:
        return self.read_bytes().decode(encoding)

    def write_bytes(self, data: bytes) -> int:
        self.fs.pipe_file(self.path, data)
        return len(data)

    def write_text(self, text: str, encoding: str = "utf-8") -> int:
        return self.write_bytes(text.encode(encoding))

    def exists(self) -> bool:
        return bool(self.fs.exists(self.path))

    def is_dir(self) -> bool:
        return bool(self.fs.isdir(self.path))

    def is_file(self) -> bool:
        return bool(self.fs.isfile(self.path))

    def mkdir(self, parents: bool = False, exist_ok: bool = False) -> None:
        if self.exists():
            if exist_ok:
                return
            raise FileExistsError(str(self))
        self.fs.mkdir(self.path, create_parents=parents)

    def touch(self) -> None:
        self.fs.touch(self.path)

    def unlink(self, missing_ok: bool = False) -> None:
        if missing_ok and not self.exists():
            return
        self.fs.rm(self.path)

    def rmdir(self, recursive: bool = True) -> None:
        self.fs.rm(self.path, recursive=recursive)

    def iterdir(self) -> Iterator[ObjectStoragePath]:
        for entry in self.fs.ls(self.path, detail=False):
            yield self._child(entry)

    def glob(self, pattern: str) -> Iterator[ObjectStoragePath]:
        for entry in self.fs.glob(posixpath.join(self.path, pattern)):
            yield self._child(entry)

    def stat(self) -> dict[str, Any]:
        return dict(self.fs.info(self.path))

    def size(self) -> int:
        return int(self.fs.size(self.path))

    def copy(self, dst: ObjectStoragePath | str) -> None:
        """Copy this file to ``dst`` (another file system too: through this process)."""
        target = dst if isinstance(dst, ObjectStoragePath) else ObjectStoragePath(dst)
        if target.protocol == self.protocol and target.conn_id == self.conn_id:
            self.fs.copy(self.path, target.path)
        else:
            target.write_bytes(self.read_bytes())

    def move(self, dst: ObjectStoragePath | str) -> None:
        self.copy(dst)
        self.unlink()


__all__ = ["ObjectStoragePath"]
