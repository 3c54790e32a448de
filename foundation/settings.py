"""Typed settings from the environment: one place for paths, the Spark master and the key.

Variables (all optional except the key outside demo mode):
- TEAMLENS_DATA_ROOT      root of the zones (default: ./var/data in the repository)
- TEAMLENS_SPARK_MASTER   Spark master URL (default: local[2]); a cluster URL scales out
- TEAMLENS_SPARK_CORES_MAX  on a cluster: the most cores one application (a task's Spark session)
                          takes, spark.cores.max (default: unset, which on a standalone cluster
                          means every free core); ignored in local mode
- TEAMLENS_SPARK_EXECUTOR_MEMORY  on a cluster: each executor's memory, spark.executor.memory
                          (default: unset, Spark's 1g); at most a worker's memory, else no
                          executor starts; ignored in local mode
- TEAMLENS_POLICY         the privacy policy file (default: foundation/policy.yaml)
- TEAMLENS_PSEUDONYM_KEY  secret key for the keyed pseudonyms (at least 32 characters)
- TEAMLENS_PSEUDONYM_KEY_FILE  or a file that holds it
- TEAMLENS_DEMO=1         demo mode: a missing key is generated once in
                          ~/.config/teamlens/demo-pseudonym.key, outside the repository
- TEAMLENS_CHECKPOINT_KEY  Ed25519 private key that signs the ledger's checkpoints: 64 hex digits
                          (its 32-byte seed) or PEM (PKCS#8); required outside demo mode
- TEAMLENS_CHECKPOINT_KEY_FILE  or a file that holds it (demo mode: generated once in
                          ~/.config/teamlens/demo-checkpoint.key)
- TEAMLENS_RUN_BY         who runs releases, recorded in the ledger (default: the OS user)
- TEAMLENS_MAX_BAD_ROW_SHARE  share of a partition's rows that may be quarantined before the
                          run fails loudly (default: 0.05)
- TEAMLENS_SERVICE_LEVEL_SECONDS  the threshold X of the queues' service level (default: 20)
- TEAMLENS_SPARK_CONNECT  off (default): every Spark task builds its own session; per_run: the DAG's
                          setup task starts one local Spark Connect server that the run's Spark
                          tasks share, and its teardown task stops it (foundation.spark_connect)
- TEAMLENS_SPARK_CONNECT_PORT  the loopback port of that server (default: 15002)
- TEAMLENS_FAIL_ON_MISSING_INPUT=1  a day on which telephony, desktop or workforce input delivered
                          nothing fails the run (agent_day_metrics, before any completion marker);
                          by default it is a WARNING in the task log, the run summary and the marker
- TEAMLENS_PERSONAL_PAGES  on/off: the dashboard's personal pages /me/<token> (default: on in demo
                          mode, off otherwise; off answers 404)
- TEAMLENS_PERSONAL_PAGE_KEY  secret key of the personal pages' links (HMAC-SHA256, at least 32
                          characters), required for them outside demo mode
- TEAMLENS_PERSONAL_PAGE_KEY_FILE  or a file that holds it (demo mode: generated once in
                          ~/.config/teamlens/demo-personal-page.key)
"""

from __future__ import annotations

import getpass
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from foundation.lake import Lake

REPO_ROOT = Path(__file__).resolve().parent.parent
MIN_KEY_LENGTH = 32


# Airflow connection whose password is the pseudonymisation key (a secrets backend can hold it).
AIRFLOW_KEY_CONNECTION = "teamlens_pseudonym_key"
# Airflow connection whose password is the checkpoint signing key (hex seed or PEM).
AIRFLOW_CHECKPOINT_KEY_CONNECTION = "teamlens_checkpoint_key"


def _airflow_connection_password(conn_id: str) -> str | None:
    """The password of an Airflow connection, or None when Airflow or the connection is absent."""
    try:
        from airflow.sdk import Connection
        from airflow.sdk.exceptions import AirflowNotFoundException
    except ImportError:
        return None
    try:
        password = Connection.get(conn_id).password
    except AirflowNotFoundException:
        return None
    return password.strip() if password else None


class MissingSecretError(RuntimeError):
    """The pseudonymisation key or the checkpoint signing key is missing or too weak."""


class SettingsError(ValueError):
    """A TEAMLENS_* variable holds a value that cannot be used; the message names the variable."""


def _secret(value: str | None, file: Path | None, connection: str | None, demo_file: Path | None) -> str | None:
    """A secret from its variable, its file, its Airflow connection (if any), or (demo mode) a file generated once."""
    if value:
        return value
    if file:
        return file.read_text().strip()
    if connection and (connection_secret := _airflow_connection_password(connection)):
        return connection_secret
    if demo_file is not None:
        if not demo_file.exists():
            demo_file.parent.mkdir(parents=True, exist_ok=True)
            demo_file.write_text(secrets.token_hex(32) + "\n")
            demo_file.chmod(0o600)
        return demo_file.read_text().strip()
    return None


@dataclass(frozen=True)
class Settings:
    data_root: Path
    spark_master: str
    policy_path: Path
    demo: bool
    run_by: str
    pseudonym_key_value: str | None
    pseudonym_key_file: Path | None
    demo_key_file: Path
    max_bad_row_share: float = 0.05
    service_level_seconds: int = 20
    spark_connect: str = "off"
    spark_connect_port: int = 15002
    checkpoint_key_value: str | None = None
    checkpoint_key_file: Path | None = None
    demo_checkpoint_key_file: Path | None = None
    fail_on_missing_input: bool = False
    # The dashboard's personal pages (teamlens/dashboard/personal.py): switch and link key.
    personal_pages: bool = False
    personal_page_key_value: str | None = None
    personal_page_key_file: Path | None = None
    demo_personal_page_key_file: Path | None = None
    spark_cores_max: int | None = None
    spark_executor_memory: str | None = None

    @property
    def lake(self) -> Lake:
        """Every path under the data root (foundation.lake)."""
        return Lake(self.data_root)

    def pseudonym_key(self) -> bytes:
        """The pseudonymisation key; fails with a how-to message when it is missing."""
        key = _secret(
            self.pseudonym_key_value,
            self.pseudonym_key_file,
            AIRFLOW_KEY_CONNECTION,
            self.demo_key_file if self.demo else None,
        )
        if key is None:
            raise MissingSecretError(
                "No pseudonymisation key. Set TEAMLENS_PSEUDONYM_KEY to a secret of at least "
                f"{MIN_KEY_LENGTH} characters (for example the output of "
                "`python -c 'import secrets; print(secrets.token_hex(32))'`), or point "
                "TEAMLENS_PSEUDONYM_KEY_FILE at a file that holds it, or store it as the password of "
                f"the Airflow connection '{AIRFLOW_KEY_CONNECTION}' (airflow connections add, "
                f"AIRFLOW_CONN_{AIRFLOW_KEY_CONNECTION.upper()}, or a secrets backend). Keep it out of "
                "the repository: whoever holds it can re-identify agents."
            )
        if len(key) < MIN_KEY_LENGTH:
            raise MissingSecretError(
                f"The pseudonymisation key has {len(key)} characters; at least {MIN_KEY_LENGTH} are required."
            )
        return key.encode()

    def checkpoint_key_text(self) -> str:
        """The checkpoint signing key as configured (hex seed or PEM); fails with a how-to message when missing.

        privacy.checkpoint.load_private_key reads it. Like the pseudonym key it lives outside the
        warehouse: whoever holds it can sign a checkpoint of a rewritten ledger.
        """
        key = _secret(
            self.checkpoint_key_value,
            self.checkpoint_key_file,
            AIRFLOW_CHECKPOINT_KEY_CONNECTION,
            self.demo_checkpoint_key_file if self.demo else None,
        )
        if key is None:
            raise MissingSecretError(
                "No checkpoint signing key. Create an Ed25519 key with `python -c 'from "
                "cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey as K; "
                "from cryptography.hazmat.primitives import serialization as s; print(K.generate()"
                ".private_bytes(s.Encoding.Raw, s.PrivateFormat.Raw, s.NoEncryption()).hex())'` and set "
                "TEAMLENS_CHECKPOINT_KEY to it, or point TEAMLENS_CHECKPOINT_KEY_FILE at a file that holds it "
                "(hex or PEM), or store it as the password of the Airflow connection "
                f"'{AIRFLOW_CHECKPOINT_KEY_CONNECTION}'. Keep it outside the warehouse and the repository; "
                "give its public key (`teamlens checkpoint --out FILE` writes FILE.pub) to the works council."
            )
        return key

    def personal_page_key(self) -> bytes:
        """The key of the personal pages' links; fails with a how-to message when missing or short.

        A key of its own (not the pseudonym key): the dashboard holds it without being able to
        compute anyone's pseudonym. No Airflow connection: the dashboard runs outside Airflow.
        """
        key = _secret(
            self.personal_page_key_value,
            self.personal_page_key_file,
            None,
            self.demo_personal_page_key_file if self.demo else None,
        )
        if key is None:
            raise MissingSecretError(
                "No personal page key. Set TEAMLENS_PERSONAL_PAGE_KEY to a secret of at least "
                f"{MIN_KEY_LENGTH} characters (for example the output of "
                "`python -c 'import secrets; print(secrets.token_hex(32))'`), or point "
                "TEAMLENS_PERSONAL_PAGE_KEY_FILE at a file that holds it, for both `teamlens dashboard` "
                "and `teamlens personal-link`. Keep it out of the repository: whoever holds it can "
                "make the link of any agent whose pseudonym they know."
            )
        if len(key) < MIN_KEY_LENGTH:
            raise MissingSecretError(
                f"The personal page key has {len(key)} characters; at least {MIN_KEY_LENGTH} are required."
            )
        return key.encode()


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read the settings from the environment (or the given mapping)."""
    env = os.environ if env is None else env
    key_file = env.get("TEAMLENS_PSEUDONYM_KEY_FILE")
    checkpoint_file = env.get("TEAMLENS_CHECKPOINT_KEY_FILE")
    page_key_file = env.get("TEAMLENS_PERSONAL_PAGE_KEY_FILE")
    config_home = Path(env.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return Settings(
        data_root=Path(env.get("TEAMLENS_DATA_ROOT") or REPO_ROOT / "var" / "data").resolve(),
        spark_master=_spark_master(env),
        policy_path=Path(env.get("TEAMLENS_POLICY") or REPO_ROOT / "foundation" / "policy.yaml").resolve(),
        demo=_flag(env, "TEAMLENS_DEMO"),
        run_by=env.get("TEAMLENS_RUN_BY") or _os_user(),
        pseudonym_key_value=env.get("TEAMLENS_PSEUDONYM_KEY") or None,
        pseudonym_key_file=Path(key_file) if key_file else None,
        demo_key_file=config_home / "teamlens" / "demo-pseudonym.key",
        max_bad_row_share=_share(env, "TEAMLENS_MAX_BAD_ROW_SHARE", 0.05),
        checkpoint_key_value=env.get("TEAMLENS_CHECKPOINT_KEY") or None,
        checkpoint_key_file=Path(checkpoint_file) if checkpoint_file else None,
        demo_checkpoint_key_file=config_home / "teamlens" / "demo-checkpoint.key",
        service_level_seconds=_non_negative_int(env, "TEAMLENS_SERVICE_LEVEL_SECONDS", 20),
        spark_connect=_spark_connect_mode(env),
        spark_connect_port=_port(env, "TEAMLENS_SPARK_CONNECT_PORT", 15002),
        fail_on_missing_input=env.get("TEAMLENS_FAIL_ON_MISSING_INPUT", "").strip().lower() in ("1", "true", "yes"),
        personal_pages=_personal_pages(env),
        personal_page_key_value=env.get("TEAMLENS_PERSONAL_PAGE_KEY") or None,
        personal_page_key_file=Path(page_key_file) if page_key_file else None,
        demo_personal_page_key_file=config_home / "teamlens" / "demo-personal-page.key",
        spark_cores_max=_optional_positive_int(env, "TEAMLENS_SPARK_CORES_MAX"),
        spark_executor_memory=_optional_memory(env, "TEAMLENS_SPARK_EXECUTOR_MEMORY"),
    )


def _personal_pages(env: Mapping[str, str]) -> bool:
    """TEAMLENS_PERSONAL_PAGES when set; unset: on in demo mode only."""
    name = "TEAMLENS_PERSONAL_PAGES"
    return _flag(env, name) if (env.get(name) or "").strip() else _flag(env, "TEAMLENS_DEMO")


SPARK_CONNECT_MODES = ("off", "per_run")
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("", "0", "false", "no", "off")
# A JVM memory size as Spark reads it: 512m, 2g, 1t (a plain number is MiB).
MEMORY_PATTERN = re.compile(r"[1-9]\d*[kmgt]?", re.IGNORECASE)
SPARK_MASTER_PATTERN = re.compile(r"local(\[(\d+|\*)(,\d+)?\])?|spark://\S+|yarn|k8s://\S+")


def _flag(env: Mapping[str, str], name: str) -> bool:
    value = (env.get(name) or "").strip().lower()
    if value not in TRUE_WORDS + FALSE_WORDS:
        raise SettingsError(f"{name} must be 1/true/yes/on or 0/false/no/off (or unset), got {value!r}")
    return value in TRUE_WORDS


def _share(env: Mapping[str, str], name: str, default: float) -> float:
    value = (env.get(name) or str(default)).strip()
    try:
        share = float(value)
    except ValueError:
        share = -1.0
    if not 0.0 <= share <= 1.0:
        raise SettingsError(f"{name} must be a share between 0 and 1 (e.g. 0.05 for 5%), got {value!r}")
    return share


def _spark_master(env: Mapping[str, str]) -> str:
    value = (env.get("TEAMLENS_SPARK_MASTER") or "local[2]").strip()
    if not SPARK_MASTER_PATTERN.fullmatch(value):
        raise SettingsError(
            f"TEAMLENS_SPARK_MASTER must be a Spark master URL (local[N], spark://HOST:PORT, yarn, k8s://...), "
            f"got {value!r}"
        )
    return value


def _spark_connect_mode(env: Mapping[str, str]) -> str:
    value = (env.get("TEAMLENS_SPARK_CONNECT") or "off").strip().lower()
    if value not in SPARK_CONNECT_MODES:
        raise SettingsError(f"TEAMLENS_SPARK_CONNECT must be one of {', '.join(SPARK_CONNECT_MODES)}, got {value!r}")
    return value


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    value = (env.get(name) or str(default)).strip()
    if not value.isdigit() or not 1 <= int(value) <= 65535:
        raise SettingsError(f"{name} must be a TCP port (1 to 65535), got {value!r}")
    return int(value)


def _non_negative_int(env: Mapping[str, str], name: str, default: int) -> int:
    value = env.get(name) or str(default)
    if not value.strip().isdigit():
        raise SettingsError(f"{name} must be a whole number of seconds (0 or more), got {value!r}")
    return int(value)


def _optional_positive_int(env: Mapping[str, str], name: str) -> int | None:
    value = (env.get(name) or "").strip()
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise SettingsError(f"{name} must be a whole number of cores (1 or more), or unset; got {value!r}")
    return int(value)


def _optional_memory(env: Mapping[str, str], name: str) -> str | None:
    value = (env.get(name) or "").strip()
    if not value:
        return None
    if not MEMORY_PATTERN.fullmatch(value):
        raise SettingsError(f"{name} must be a memory size such as 512m or 4g, or unset; got {value!r}")
    return value.lower()


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in some containers
        return "unknown"
