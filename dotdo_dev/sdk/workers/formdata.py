"""`FormData`: the SDK's form fields (strings and files), in pure Python.

The API follows the SDK (a `MutableMapping` after `multidict` and the web `FormData`): `fd[key]`
is the first value or None, `append` adds, `fd[key] = v` replaces every value, `get_all` lists
them. As in the web API a `Blob` value is stored as a `File` (named "blob" unless a file name is
given).
"""

from __future__ import annotations

from collections.abc import Generator, MutableMapping

from .blob import Blob, File

FormDataValue = "str | js.Blob | Blob"


class FormData(MutableMapping[str, FormDataValue]):
    """A set of key/value pairs for forms; keys may repeat."""

    def __init__(self, form_data: dict[str, FormDataValue] | None = None):
        self._entries: list[tuple[str, str | File]] = []
        if not form_data:
            return
        if not isinstance(form_data, dict):
            raise TypeError("Expected form_data to be a dict or an instance of FormData")
        for key, value in form_data.items():
            self.append(key, value)

    def __repr__(self) -> str:
        return f"FormData({self._entries!r})"

    def __getitem__(self, key: str) -> FormDataValue:
        """The first value of `key`, or None when there is none (as the SDK: no KeyError)."""
        for name, value in self._entries:
            if name == key:
                return value
        return None  # type: ignore[return-value]

    def __setitem__(self, key: str, value: FormDataValue):
        if isinstance(value, list):
            raise TypeError("Expected single item in arguments to FormData.__setitem__")
        entry = _entry(key, value, None)
        index = next((i for i, (name, _) in enumerate(self._entries) if name == key), None)
        self.delete(key)
        self._entries.insert(len(self._entries) if index is None else index, entry)

    def append(self, key: str, value: FormDataValue, filename: str | None = None):
        """Add a value for `key` after the existing ones; `filename` names a blob value."""
        self._entries.append(_entry(key, value, filename))

    def delete(self, key: str):
        """Remove every value of `key` (nothing happens when there is none)."""
        self._entries = [(name, value) for name, value in self._entries if name != key]

    def __contains__(self, key: object) -> bool:
        return any(name == key for name, _ in self._entries)

    def values(self) -> Generator[FormDataValue, None, None]:  # type: ignore[override]
        """Every value, in order (repeated keys give several)."""
        for _, value in list(self._entries):
            yield value

    def keys(self) -> Generator[str, None, None]:  # type: ignore[override]
        """Every key, in order, once per value."""
        for name, _ in list(self._entries):
            yield name

    def __iter__(self):
        yield from self.keys()

    def items(self) -> Generator[tuple[str, FormDataValue], None, None]:  # type: ignore[override]
        """Every (key, value) pair, in order."""
        yield from list(self._entries)

    def __delitem__(self, key: str):
        self.delete(key)

    def __len__(self):
        # The real SDK 1.9.5 computes len() of a generator here, so len(form_data) (and bool(form_data))
        # raise TypeError on Cloudflare. Raise it locally too, so the code is not shipped.
        raise TypeError(
            "object of type 'generator' has no len() (len() of a workers.FormData fails in the real SDK 1.9.5; "
            "use len(list(form_data.keys())))"
        )

    def get_all(self, key: str) -> list[FormDataValue]:
        """Every value of `key`, in order."""
        return [value for name, value in self._entries if name == key]

    @property
    def js_object(self) -> FormData:
        """The underlying form data (a JS `FormData` under Pyodide). Locally this is the object itself."""
        return self


def _entry(key: str, value: FormDataValue, filename: str | None) -> tuple[str, str | File]:
    if not isinstance(key, str):
        raise TypeError(f"FormData keys must be strings, not {type(key).__name__}")
    if isinstance(value, Blob):
        if filename is None:
            filename = value.name if isinstance(value, File) else "blob"
        last_modified = value.last_modified if isinstance(value, File) else None
        return key, File(value, filename, value.content_type, last_modified=last_modified)
    if isinstance(value, str):
        if filename is not None:
            raise TypeError("FormData: a filename can only be given with a Blob or File value")
        return key, value
    raise TypeError(f"FormData values must be str, Blob or File, not {type(value).__name__}")
