"""Indonesian wording of refusal reasons, for the web UI.

The API sends its reasons in English, and clients and tests match on them.
The web UI shows each reason in Indonesian first, with the English after
it. Each entry of `TRANSLATIONS` matches one family of English reasons and
renders the Indonesian text from the parts it captured. A reason that no
entry matches has no Indonesian text and is shown in English alone, so no
reason is lost.

NOTE: the patterns repeat the English wording of the messages where they
are raised. A reworded message stops matching and is then shown in English
alone; tests/collector/test_ui_refusal_text.py checks the covered families.

Captured groups named `field`, `name`, `step`, `to` and `steps` are ids,
which the caller's `Names` turns into names for people. Other groups are
shown as they are.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

# A value name at the start of a reason: "field 'x'", "field 'x.stage.notes'",
# "field 'x' entry 2" for one line of a list, or a bare key such as "reason".
_NAME = r"(?P<name>field '[\w.]+'(?: entry \d+)?|[\w.]+)"
_ROLES = r"allowed roles: (?P<roles>.+)"
_ASSIGNED_TAIL = r" \(the assigned technician, a head or an admin may\)"


@dataclass(frozen=True)
class Names:
    """Names for people of the ids a reason quotes."""

    # Field id, or "field.stage" for a stage of a staged test -> name.
    field: Callable[[str], str]
    # Step id -> name.
    step: Callable[[str], str]


@dataclass(frozen=True)
class Translation:
    """One family of English reasons and its Indonesian template."""

    pattern: re.Pattern[str]
    # A str.format template over the pattern's named groups.
    indonesian: str


def _entry(pattern: str, indonesian: str) -> Translation:
    return Translation(re.compile(pattern + r"\Z"), indonesian)


TRANSLATIONS: tuple[Translation, ...] = (
    # Missing values.
    _entry(
        r"missing required field '(?P<field>\w+)' for step '(?P<step>\w+)'",
        "kolom wajib {field} pada tahap {step} belum diisi",
    ),
    _entry(
        rf"{_NAME}: missing result of stage '(?P<stage>\w+)'",
        "{name}: hasil tahap uji {stage} belum diisi",
    ),
    _entry(rf"{_NAME}: missing(?:; .*)?", "{name}: wajib diisi"),
    # Invalid values and wrong types.
    _entry(
        rf"{_NAME}: invalid value (?P<value>.+?); expected one of (?P<choices>.+)",
        "{name}: nilai {value} tidak valid; pilih salah satu dari {choices}",
    ),
    _entry(
        rf"{_NAME}: invalid value (?P<value>.+?); "
        r"expected (?P<first>\w+) or (?P<second>\w+)(?: \(.*\))?",
        "{name}: nilai {value} tidak valid; pilih {first} atau {second}",
    ),
    _entry(
        rf"{_NAME}: invalid date (?P<value>.+?); expected YYYY-MM-DD.*",
        "{name}: tanggal {value} tidak valid; tulis sebagai YYYY-MM-DD, "
        "misalnya 2026-12-04",
    ),
    _entry(
        rf"{_NAME}: invalid (?:datetime|time) (?P<value>.+?); "
        r"expected ISO 8601 with an offset.*",
        "{name}: waktu {value} tidak valid; tulis dalam ISO 8601 dengan selisih "
        "zona waktu, misalnya 2026-12-04T09:30:00+07:00",
    ),
    _entry(
        rf"{_NAME}: expected text, got (?P<value>.+)",
        "{name}: harus berupa teks, bukan {value}",
    ),
    _entry(
        rf"{_NAME}: expected true or false, got (?P<value>.+)",
        "{name}: harus true atau false, bukan {value}",
    ),
    _entry(
        rf"{_NAME}: expected a list of non-empty texts, got (?P<value>.+)",
        "{name}: harus berupa daftar teks yang tidak kosong, bukan {value}",
    ),
    _entry(
        rf"{_NAME}: expected a user name, got (?P<value>.+)",
        "{name}: harus berupa nama pengguna, bukan {value}",
    ),
    _entry(
        rf"{_NAME}: no active user (?P<user>'.+')",
        "{name}: tidak ada pengguna aktif bernama {user}",
    ),
    _entry(
        rf"{_NAME}: no active technician (?P<user>'.+')",
        "{name}: tidak ada teknisi aktif bernama {user}",
    ),
    _entry(
        rf"{_NAME}: user (?P<user>'.+') has role (?P<role>'\w+'); "
        r"expected a user with role (?P<expected>'\w+')",
        "{name}: pengguna {user} berperan {role}; pilih pengguna berperan {expected}",
    ),
    # Roles that may not act.
    _entry(
        rf"role (?P<role>'\w+') may not complete step '(?P<step>\w+)'; {_ROLES}",
        "peran {role} tidak boleh menyelesaikan tahap {step}; "
        "peran yang boleh: {roles}",
    ),
    _entry(
        rf"role (?P<role>'\w+') may not edit step '(?P<step>\w+)'; {_ROLES}",
        "peran {role} tidak boleh mengubah tahap {step}; peran yang boleh: {roles}",
    ),
    _entry(
        rf"role (?P<role>'\w+') may not close cases; {_ROLES}",
        "peran {role} tidak boleh menutup kasus; peran yang boleh: {roles}",
    ),
    _entry(
        rf"role (?P<role>'\w+') may not comment; {_ROLES}",
        "peran {role} tidak boleh berkomentar; peran yang boleh: {roles}",
    ),
    _entry(
        rf"role (?P<role>'\w+') may not submit complaints; {_ROLES}",
        "peran {role} tidak boleh mengajukan pengaduan; peran yang boleh: {roles}",
    ),
    _entry(
        rf"role (?P<role>'\w+') may not move a complaint from (?P<status>\w+); "
        rf"{_ROLES}",
        "peran {role} tidak boleh memindahkan pengaduan berstatus {status}; "
        "peran yang boleh: {roles}",
    ),
    _entry(
        r"user (?P<user>'.+') of vendor (?P<vendor>'.+') may not act on case "
        r"(?P<case>\d+): it was handed to vendor (?P<other>.+)",
        "pengguna {user} dari vendor {vendor} tidak boleh menangani kasus {case}, "
        "karena kasus ini diserahkan kepada vendor {other}",
    ),
    # Another technician is assigned.
    _entry(
        r"case (?P<case>\d+) is assigned to technician (?P<assigned>'.+'); "
        r"user (?P<user>'.+') may not act on step '(?P<step>\w+)'" + _ASSIGNED_TAIL,
        "kasus {case} ditugaskan kepada teknisi {assigned}; pengguna {user} "
        "tidak boleh menangani tahap {step}. Hanya teknisi yang ditugaskan, "
        "kepala biro atau admin yang boleh",
    ),
    _entry(
        r"case (?P<case>\d+) is assigned to technician (?P<assigned>'.+'); "
        r"user (?P<user>'.+') may not close it" + _ASSIGNED_TAIL,
        "kasus {case} ditugaskan kepada teknisi {assigned}; pengguna {user} "
        "tidak boleh menutupnya. Hanya teknisi yang ditugaskan, kepala biro "
        "atau admin yang boleh",
    ),
    _entry(
        r"complaint (?P<complaint>\d+) is assigned to (?P<assigned>'.+'), "
        r"not (?P<user>'.+')",
        "pengaduan {complaint} ditugaskan kepada {assigned}, bukan {user}",
    ),
    # Moves the procedure does not allow from here. The second entry is also
    # the reason a failed test keeps a case on its repair step.
    _entry(
        r"step '(?P<step>\w+)' cannot go to '(?P<to>\w+)'; "
        r"allowed next steps: (?P<steps>.+)",
        "tahap {step} tidak dapat berlanjut ke {to}; tahap berikutnya yang "
        "boleh: {steps}",
    ),
    _entry(
        r"step '(?P<step>\w+)' goes to '(?P<to>\w+)' only when "
        r"(?P<condition>\w+) is passed \(got failed\)",
        "uji gagal: tahap {step} baru dapat berlanjut ke {to} bila "
        "{condition} lulus (passed)",
    ),
    _entry(
        r"step '(?P<step>\w+)' goes to '(?P<to>\w+)' only when "
        r"(?P<condition>\w+) is (?P<accepted>.+?) \(got (?P<got>[^)]*)\)",
        "tahap {step} hanya dapat berlanjut ke {to} bila {condition} bernilai "
        "{accepted}, sedangkan nilainya {got}",
    ),
    _entry(
        r"complaint (?P<complaint>\d+) is (?P<status>\w+) and can only go to "
        r"(?P<target>'\w+'), not (?P<requested>'.*')",
        "pengaduan {complaint} berstatus {status} dan hanya dapat berlanjut ke "
        "{target}, bukan {requested}",
    ),
    _entry(
        r"case (?P<case>\d+) has not reached step '(?P<step>\w+)'; nothing to edit",
        "kasus {case} belum sampai di tahap {step}; belum ada yang dapat diubah",
    ),
    # Closed cases and complaints.
    _entry(
        r"case (?P<case>\d+) is closed \((?P<resolution>\w+)\); "
        r"a closed case takes no more steps",
        "kasus {case} sudah ditutup ({resolution}); kasus yang ditutup tidak "
        "dapat berlanjut lagi",
    ),
    _entry(
        r"complaint (?P<complaint>\d+) is closed; it takes no more steps",
        "pengaduan {complaint} sudah ditutup dan tidak dapat berlanjut lagi",
    ),
    # Times in the future.
    _entry(
        rf"{_NAME}: (?P<value>\S+) is in the future \(now is (?P<now>[^)]+)\); "
        r"give the time it happened",
        "{name}: {value} berada di masa depan, sekarang {now}; isi waktu kejadiannya",
    ),
    _entry(
        rf"{_NAME}: (?P<value>\S+) is in the future \(today is (?P<today>[^)]+)\); "
        r"give the date .*",
        "{name}: {value} berada di masa depan, hari ini {today}; "
        "isi tanggal kejadiannya",
    ),
    _entry(
        rf"{_NAME}: (?P<value>\S+) is in the future; give the time it happened",
        "{name}: {value} berada di masa depan; isi waktu kejadiannya",
    ),
    # Text over its limit.
    _entry(
        rf"{_NAME}: (?P<length>\d+) characters is longer than the maximum of "
        r"(?P<limit>\d+); shorten it",
        "{name}: {length} karakter melebihi batas {limit} karakter; persingkat teksnya",
    ),
)

_FIELD_NAME = re.compile(r"field '(?P<field>[\w.]+)'(?: entry (?P<entry>\d+))?\Z")


def _value_name(token: str, names: Names) -> str:
    # A bare key such as "reason" or "text" is shown as the API names it.
    match = _FIELD_NAME.match(token)
    if match is None:
        return token
    text = f"kolom {names.field(match['field'])}"
    if match["entry"]:
        text += f" baris {match['entry']}"
    return text


def indonesian(reason: str, names: Names) -> str | None:
    """Return the Indonesian text of an English refusal reason.

    Return None when no entry of TRANSLATIONS matches the reason.
    """
    for translation in TRANSLATIONS:
        match = translation.pattern.match(reason)
        if match is None:
            continue
        parts = dict(match.groupdict())
        for key, value in parts.items():
            if value is None:
                continue
            if key in ("field", "condition"):
                parts[key] = names.field(value)
            elif key == "name":
                parts[key] = _value_name(value, names)
            elif key in ("step", "to"):
                parts[key] = names.step(value)
            elif key == "steps":
                parts[key] = ", ".join(
                    names.step(step_id) for step_id in value.split(", ")
                )
        return translation.indonesian.format(**parts)
    return None
