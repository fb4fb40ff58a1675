"""Errors that say which feature, column or field is wrong and what was expected."""


class CtrError(ValueError):
    """Base class of every error `ctr` raises on purpose."""


class SpecError(CtrError):
    """A feature spec is malformed: the message names the path (`features[2].kind`) and the rule."""

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        if len(self.problems) == 1:
            message = "invalid feature spec: " + self.problems[0]
        else:
            message = "invalid feature spec:\n" + "\n".join("  - " + p for p in self.problems)
        super().__init__(message)


class DataError(CtrError):
    """Data does not fit the spec: a missing column, a wrong dtype, a bad label, no rows."""


class ArgumentError(CtrError):
    """An argument of a model or function has the wrong type or value (`embedding_dim=0`)."""


class NotFittedError(CtrError):
    """A model or preprocessor was used before `fit`."""


def first_line(err: BaseException) -> str:
    """The first line of a foreign error's message (its type's name when it has none), to quote in ours."""
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
