"""`tf.flags` / `tf.app.flags`: command-line flags as TF1 programs define and read them (absl's behaviour).

    tf.app.flags.DEFINE_integer("max_steps", 2000, "Number of steps.", lower_bound=0)
    FLAGS = tf.app.flags.FLAGS
    tf.app.run(main)       # parses sys.argv; main(argv) gets what is not a known flag

TF1 used absl-py for this; graphc does not depend on it (no core dependency
brings it), so this module is the part of absl's parser TF1 programs use:
`--name=value`, `--name value`, `-name`, `--flag`/`--noflag` for booleans,
`--` ending the flags, unknown flags left for `main` by `tf.app.run`, absl's
exception names and messages, and `--help`/`--helpfull` (printed by
`tf.app.run`, which then exits with status 1, as absl's does). Reading a flag
before `tf.app.run` parses sys.argv first, as TF1's FLAGS wrapper does.
"""

from __future__ import annotations

import sys
import textwrap


class Error(Exception):
    """The base of flag errors (absl's `flags.Error`)."""


class IllegalFlagValueError(Error):
    """A flag given a value its parser refuses."""


class UnrecognizedFlagError(Error):
    """A flag no DEFINE_* defined."""


class DuplicateFlagError(Error):
    """A flag defined twice."""


class Flag:
    """One flag: its name, default, help, current value and how it parses a command-line value."""

    def __init__(self, name: str, default, help_text: str, module: str, parse, kind_help: str = "",
                 boolean: bool = False):
        self.name, self.help, self.module = name, help_text, module
        self._parse_value, self.kind_help, self.boolean = parse, kind_help, boolean
        self.default = None if default is None else self.parse_value(default)
        self.value = self.default
        self.present = 0  # how many times the command line set it

    def parse_value(self, text):
        """`text` (a string, or already a value) as this flag's value; IllegalFlagValueError if it is not one."""
        if not isinstance(text, str):
            return self._parse_value(text)
        try:
            return self._parse_value(text)
        except ValueError as e:
            raise IllegalFlagValueError(f"flag --{self.name}={text}: {e}") from None

    def default_text(self) -> str:
        if isinstance(self.default, bool):
            return repr(str(self.default).lower())
        if isinstance(self.default, list):
            return repr(",".join(str(v) for v in self.default))
        return repr(str(self.default))


def _boolean(value) -> bool:
    if isinstance(value, bool) or value in (0, 1):
        return bool(value)
    if str(value).lower() in ("true", "t", "1"):
        return True
    if str(value).lower() in ("false", "f", "0"):
        return False
    raise ValueError("Non-boolean argument to boolean flag")


def _number_parser(convert, number_name: str, article: str, lower_bound, upper_bound):
    """absl's integer and float parsers: the conversion, the bounds check, and the help saying what fits."""
    if lower_bound is not None and upper_bound is not None:
        kind = f"{article} {number_name} in the range [{lower_bound}, {upper_bound}]"
    elif lower_bound == 1:
        kind = f"a positive {number_name}"
    elif upper_bound == -1:
        kind = f"a negative {number_name}"
    elif lower_bound == 0:
        kind = f"a non-negative {number_name}"
    elif upper_bound == 0:
        kind = f"a non-positive {number_name}"
    elif upper_bound is not None:
        kind = f"{number_name} <= {upper_bound}"
    elif lower_bound is not None:
        kind = f"{number_name} >= {lower_bound}"
    else:
        kind = f"{article} {number_name}"

    def parse(value):
        number = convert(value)
        if (lower_bound is not None and number < lower_bound) or (upper_bound is not None and number > upper_bound):
            raise ValueError(f"{number} is not {kind}")
        return number

    return parse, kind


def _integer(value) -> int:
    if isinstance(value, str):
        text = value.strip().lower()
        base = 16 if text.lstrip("+-").startswith("0x") else 8 if len(text) > 1 and text.startswith("0") else 10
        return int(text, base)
    if isinstance(value, float) and not value.is_integer():
        raise ValueError(f"Expect argument to be a string or int, found {type(value)}")
    return int(value)


class FlagValues:
    """`FLAGS`: the defined flags, read and set as attributes (`FLAGS.max_steps`)."""

    def __init__(self):
        self.__dict__["_flags"] = {}
        self.__dict__["_parsed"] = False

    # -- definition ---------------------------------------------------------------------------------

    def _define(self, flag: Flag) -> None:
        existing = self._flags.get(flag.name)
        if existing is not None:
            raise DuplicateFlagError(f"The flag '{flag.name}' is defined twice. First from {existing.module}, "
                                     f"second from {flag.module}. Description from first occurrence: "
                                     f"{existing.help}")
        self._flags[flag.name] = flag

    # -- parsing ------------------------------------------------------------------------------------

    def __call__(self, argv, known_only: bool = False) -> list:
        """Parses the flags in `argv` (argv[0] is the program); returns argv[0] and the arguments left: the
        positional ones, and with `known_only` the unknown flags (else UnrecognizedFlagError)."""
        argv = list(argv)
        if not argv:
            raise ValueError("argv cannot be an empty list, and must contain the program name as the first "
                             "element.")
        left = [argv[0]]
        arguments = iter(argv[1:])
        for argument in arguments:
            if argument == "--":
                left += (["--"] if known_only else []) + list(arguments)
                break
            name, value = self._split(argument)
            if name is None:
                left.append(argument)
                continue
            flag = self._flags.get(name)
            if flag is None and name.startswith("no") and getattr(self._flags.get(name[2:]), "boolean", False):
                if value is not None:
                    raise IllegalFlagValueError(f"Boolean flag '{name}' takes no value, got '{value}'")
                flag, value = self._flags[name[2:]], "false"
            if flag is None:
                if known_only:
                    left.append(argument)
                    continue
                raise UnrecognizedFlagError(f"Unknown command line flag '{name}'")
            if value is None:
                value = "true" if flag.boolean else self._next_value(arguments, argument)
            flag.value = flag.parse_value(value)
            flag.present += 1
        self.__dict__["_parsed"] = True
        return left

    @staticmethod
    def _split(argument: str):
        """(name, value or None) of a flag argument; (None, None) for a positional one."""
        if not argument.startswith("-") or argument.strip("-") == "":
            return None, None
        name, equals, value = argument.lstrip("-").partition("=")
        return name, value if equals else None

    @staticmethod
    def _next_value(arguments, argument: str) -> str:
        try:
            return next(arguments)
        except StopIteration:
            raise Error(f"Missing value for flag {argument}") from None

    def is_parsed(self) -> bool:
        return self._parsed

    def mark_as_parsed(self) -> None:
        self.__dict__["_parsed"] = True

    def unparse_flags(self) -> None:
        """Every flag back to its default, and FLAGS unparsed."""
        for flag in self._flags.values():
            flag.value, flag.present = flag.default, 0
        self.__dict__["_parsed"] = False

    # -- values ---------------------------------------------------------------------------------------

    def __getattr__(self, name: str):
        flags = self.__dict__["_flags"]
        if name not in flags:
            raise AttributeError(name)
        if not self._parsed:  # TF1's FLAGS parses the command line when a flag is first read
            self(sys.argv)
        return flags[name].value

    def __setattr__(self, name: str, value) -> None:
        if name not in self._flags:
            raise AttributeError(f"graphc's FLAGS has no flag {name!r}: define it with DEFINE_* first")
        self._flags[name].value = self._flags[name].parse_value(value)

    def __contains__(self, name: str) -> bool:
        return name in self._flags

    def __getitem__(self, name: str) -> Flag:
        return self._flags[name]

    def __iter__(self):
        return iter(self._flags)

    def flag_values_dict(self) -> dict:
        """{name: value} of every flag."""
        return {name: flag.value for name, flag in self._flags.items()}

    # -- help -----------------------------------------------------------------------------------------

    def help_text(self, program: str, full: bool) -> str:
        """absl's usage text: the main module's flags (all modules' with `full`), grouped by module."""
        by_module: dict = {}
        for flag in sorted(self._flags.values(), key=lambda f: f.name):
            if full or flag.module == program:
                by_module.setdefault(flag.module, []).append(flag)
        lines = ["", f"       USAGE: {program} [flags]", "flags:"]
        for module in sorted(by_module, key=lambda m: (m != program, m)):
            lines += ["", f"{module}:"]
            for flag in by_module[module]:
                name = f"[no]{flag.name}" if flag.boolean else flag.name
                lines += textwrap.wrap(f"--{name}: {flag.help}", 80, initial_indent="  ", subsequent_indent="    ")
                if flag.default is not None:
                    lines.append(f"    (default: {flag.default_text()})")
                if flag.kind_help:
                    lines.append(f"    ({flag.kind_help})")
        if not full:
            lines += ["", "Try --helpfull to get a list of all flags."]
        return "\n".join(lines)


FLAGS = FlagValues()


def _module_name() -> str:
    """The module that called DEFINE_*: its name, or for the program itself its file, as absl names it."""
    frame = sys._getframe(2)
    while frame.f_globals.get("__name__") == __name__:
        frame = frame.f_back
    name = frame.f_globals.get("__name__", "")
    return program_name() if name == "__main__" else name


def program_name() -> str:
    """The program's file name, as absl's help shows it."""
    return sys.argv[0].rsplit("/", 1)[-1] if sys.argv and sys.argv[0] else "__main__"


def DEFINE_string(name, default, help, flag_values=FLAGS, **kwargs):  # noqa: A002, N802 - TF's names
    """A flag whose value is a string."""
    flag_values._define(Flag(name, default, help, _module_name(), str))


def DEFINE_integer(name, default, help, lower_bound=None, upper_bound=None, flag_values=FLAGS,  # noqa: A002, N802
                   **kwargs):
    """A flag whose value is an int, optionally within [lower_bound, upper_bound]."""
    parse, kind = _number_parser(_integer, "integer", "an", lower_bound, upper_bound)
    flag_values._define(Flag(name, default, help, _module_name(), parse, kind))


def DEFINE_float(name, default, help, lower_bound=None, upper_bound=None, flag_values=FLAGS,  # noqa: A002, N802
                 **kwargs):
    """A flag whose value is a float, optionally within [lower_bound, upper_bound]."""
    parse, kind = _number_parser(float, "number", "a", lower_bound, upper_bound)
    flag_values._define(Flag(name, default, help, _module_name(), parse, kind))


def DEFINE_boolean(name, default, help, flag_values=FLAGS, **kwargs):  # noqa: A002, N802
    """A flag that is true or false: `--name`, `--noname`, `--name=false`."""
    flag_values._define(Flag(name, default, help, _module_name(), _boolean, boolean=True))


DEFINE_bool = DEFINE_boolean  # noqa: N816 - TF's name


def DEFINE_list(name, default, help, flag_values=FLAGS, **kwargs):  # noqa: A002, N802
    """A flag whose value is a list of strings, given comma-separated."""
    def parse(value):
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return [str(item) for item in value]

    flag_values._define(Flag(name, default, help, _module_name(), parse, "a comma separated list"))


def DEFINE_enum(name, default, enum_values, help, flag_values=FLAGS, **kwargs):  # noqa: A002, N802
    """A flag whose value is one of `enum_values`."""
    choices = list(enum_values)

    def parse(value):
        if value not in choices:
            raise ValueError(f"value should be one of <{'|'.join(choices)}>")
        return value

    flag_values._define(Flag(name, default, f"<{'|'.join(choices)}>: {help}", _module_name(), parse))
