"""One error family, so every command can turn a bad input into one clear line."""


class SignedgeError(Exception):
    """A problem with the user's input or environment, explained in one line."""


class DatasetError(SignedgeError, ValueError):
    """A dataset folder, manifest or recording file is missing or malformed."""


class ModelError(SignedgeError, ValueError):
    """A model file is missing, corrupt or not what the runtime expects."""


class SourceError(SignedgeError, OSError):
    """A camera, video or recording cannot be opened or read."""
