"""Spark engine: the same interface as :class:`jdl.engines.duckdb.DuckDBEngine`, on Apache Spark.

The stages write SQL in DuckDB's dialect (the project's source dialect, see
:mod:`jdl.engines.dialect`). :meth:`SparkEngine.execute` turns it into Spark SQL with
:func:`jdl.engines.dialect.spark_statement` before running it — that is the one dialect step — so
the cohort, pool and outcome queries run unchanged. The national records are the data
directory's Parquet files (``DIR/parquet/<table>/*.parquet``) exposed as temporary views under
their folder names, cast to the column types the caller passes (the data contract's); Spark
prunes columns and pushes filters down into the Parquet reads.

One JVM (``SparkContext``) serves the whole process; each engine works in its own
``SparkSession.newSession()``, so its temporary views never collide with another engine's.
pyspark is imported only when a Spark engine is opened (a DuckDB-only run never loads it).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import warnings
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import pandas as pd

from jdl.core.config import SparkSettings
from jdl.core.errors import EngineError, JDLError, UsageError
from jdl.engines.dialect import spark_statement, to_spark_sql

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

PARQUET_DIR = "parquet"
_LOCK = threading.Lock()
_LOG4J = """\
rootLogger.level = {level}
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{{HH:mm:ss}} %p %c{{1}}: %m%n
logger.repl.name = org.apache.spark.repl.Main
logger.repl.level = {level}
logger.submit.name = org.apache.spark.deploy.SparkSubmit
logger.submit.level = {level}
logger.gateway.name = org.apache.spark.api.python.PythonGatewayServer
logger.gateway.level = {level}
logger.context.name = org.apache.spark.SparkContext
logger.context.level = {level}
"""


class SparkResult:
    """A query's result, fetched like DuckDB's: ``fetchall()``, ``df()``, ``to_arrow_table()``.

    ``own_views``: the cached views the query made for its shared common table expressions
    (see :meth:`SparkEngine.execute`), dropped by ``drop`` after the first fetch."""

    def __init__(self, frame: Any, sql: str, own_views: list[str] | None = None,
                 drop: Any = None) -> None:
        self.frame = frame  # the lazy Spark DataFrame
        self.sql = sql
        self.own_views = list(own_views or [])
        self._drop = drop

    def fetchall(self) -> list[tuple[Any, ...]]:
        rows = self._fetch(lambda: self.frame.collect())
        return [tuple(row) for row in rows]

    def to_arrow_table(self) -> Any:
        return self._fetch(lambda: self.frame.toArrow())

    def _fetch(self, run: Any) -> Any:
        try:
            return _action(run, self.sql)
        finally:
            self.release()

    def release(self) -> None:
        """Drop the query's own cached views (a later fetch recomputes, same rows)."""
        views = self.detach()
        if views and self._drop is not None:
            self._drop(views)

    def detach(self) -> list[str]:
        """Hand the query's own views to the caller (who drops them): for a result kept as a
        view, which reads them whenever it is computed."""
        views, self.own_views = self.own_views, []
        return views

    def df(self) -> pd.DataFrame:
        """pandas through Arrow, with DuckDB's conventions (dates as ``datetime64``)."""
        return _as_duckdb_pandas(self.to_arrow_table())


class SparkEngine:
    """Runs the stages' SQL on Spark; errors carry the failing (Spark) SQL. Implements
    :class:`jdl.engines.Engine`.

    ``data_dir``: a data directory whose Parquet tables become views (``None``: an empty engine,
    for tests and registered frames); ``schema``: their columns' types (table -> (column, SQL
    type) pairs; without it every Parquet folder is a view with the file's own types).
    ``settings``: the Spark section of the configuration (default: its defaults), used when no
    Spark session is running yet.
    """

    name = "spark"
    partitions_itself = True  # Spark plans its own partitions

    def __init__(
        self,
        data_dir: str | Path | None = None,
        *,
        settings: SparkSettings | None = None,
        session: Any = None,
        schema: Mapping[str, Sequence[tuple[str, str]]] | None = None,
    ) -> None:
        base = session if session is not None else spark_session(settings)
        _quiet_query_context_logs()
        self.spark = base.newSession()
        # Per session, so they hold even in a session someone else started (a notebook).
        self.spark.conf.set("spark.sql.session.timeZone", "UTC")
        self.spark.conf.set("spark.sql.execution.arrow.pyspark.enabled", "true")
        self._data_dir = None if data_dir is None else Path(data_dir)
        self._views: set[str] = set()
        self._cached: dict[str, Any] = {}
        self._depends: dict[str, list[str]] = {}  # a cached view -> the CTE views it reads
        self._counter = 0
        self._appended: dict[str, Any] = {}  # append_rows' tables: their frames so far
        if self.data_dir is not None:
            self._register_tables(self.data_dir, schema)

    @property
    def data_dir(self) -> Path | None:
        """The data directory whose Parquet tables this engine reads (``None``: none)."""
        return self._data_dir

    @property
    def path(self) -> Path | None:
        """The data directory's tables folder (what ``DuckDBEngine.path`` is for DuckDB)."""
        return None if self.data_dir is None else self.data_dir / PARQUET_DIR

    def _register_tables(self, data_dir: Path,
                         schema: Mapping[str, Sequence[tuple[str, str]]] | None) -> None:
        folder = data_dir / PARQUET_DIR
        if schema is not None:
            names = list(schema)
        elif folder.is_dir():
            names = sorted(p.name for p in folder.iterdir() if p.is_dir())
        else:
            names = []
        for name in names:
            files = folder / name
            if not files.is_dir() or not any(files.glob("*.parquet")):
                continue
            raw = f"_raw_{name}"
            frame = _action(lambda f=files: self.spark.read.parquet(str(f)), str(files))
            frame.createOrReplaceTempView(raw)
            if schema is None:
                select = f"SELECT * FROM {raw}"
            else:
                # a column the files lack reads as empty: a data directory written under an
                # earlier contract (1.1 had no people.middle_names) still opens
                have = set(frame.columns)
                select = "SELECT " + ", ".join(
                    f"CAST({c if c in have else 'NULL'} AS {t}) AS {c}"
                    for c, t in schema[name]) + f" FROM {raw}"
            self.spark.sql(f"CREATE OR REPLACE TEMPORARY VIEW {name} AS " + to_spark_sql(select))
            self._views.update({raw, name})

    def execute(self, sql: str, params: list[Any] | dict[str, Any] | None = None) -> SparkResult:
        """Run one statement written in DuckDB's dialect (translated to Spark SQL); a lazy
        result.

        Spark inlines a common table expression at every reference, so a CTE read by several
        parts of a query (the events every measure joins to) would be derived again for each.
        DuckDB's SQL is written for an engine that computes it once; here each CTE referenced
        more than once becomes a cached view for the duration of the query (dropped after the
        first fetch). Results are the same; the work is done once.
        """
        try:
            statement = spark_statement(sql)
        except EngineError:
            raise
        except Exception as exc:  # sqlglot's ParseError / UnsupportedError
            raise EngineError(f"Could not translate the query to Spark SQL: {exc}",
                              sql=sql) from exc
        shared: list[str] = []
        try:
            self._cache_shared_ctes(statement, params, shared)
            spark_sql = statement.sql(dialect="spark")
            frame = _action(lambda: self.spark.sql(spark_sql, args=params), spark_sql)
        except EngineError:
            self._drop_views(shared)
            raise
        return SparkResult(frame, spark_sql, shared, drop=self._drop_views)

    def _cache_shared_ctes(self, statement: Any, params: Any, made: list[str]) -> None:
        """Replace each CTE of ``statement`` (at any depth) that its query references more than
        once by a cached temporary view, in place, adding the views' names to ``made``."""
        from sqlglot import exp

        defined = {cte.alias for cte in statement.find_all(exp.CTE)}
        for ctes in list(statement.find_all(exp.With)):
            if ctes.root() is not statement:
                continue  # inside a CTE already replaced by its view
            scope = ctes.parent
            for cte in list(ctes.expressions):
                references = [t for t in scope.find_all(exp.Table)
                              if t.name == cte.alias and not t.db]
                earlier = ctes.expressions[: ctes.expressions.index(cte)]
                reads = {t.name for t in cte.this.find_all(exp.Table) if not t.db} & defined
                if len(references) < 2 or not reads <= {c.alias for c in earlier}:
                    continue  # read once, or reads a CTE of an enclosing query
                body = cte.this.copy()
                own = body.args.get("with_")
                if earlier or own is not None:
                    body.set("with_", exp.With(expressions=[c.copy() for c in earlier]
                                               + (own.expressions if own else [])))
                view = f"_jdl_cte_{self._next_id()}_{cte.alias}"
                spark_sql = body.sql(dialect="spark")
                self._cache(view, _action(lambda q=spark_sql: self.spark.sql(q, args=params),
                                          spark_sql))
                made.append(view)
                for table in references:
                    if not table.alias:
                        table.set("alias", exp.TableAlias(this=exp.to_identifier(cte.alias)))
                    table.set("this", exp.to_identifier(view))
                cte.pop()
            if not ctes.expressions:
                ctes.pop()

    def _next_id(self) -> int:
        self._counter += 1
        return self._counter

    def _cache(self, name: str, frame: Any) -> None:
        frame = frame.cache()
        self._cached[name] = frame
        frame.createOrReplaceTempView(name)
        self._views.add(name)

    def _drop_views(self, names: list[str]) -> None:
        for name in names:
            self.unregister(name)

    def df(self, sql: str, params: list[Any] | dict[str, Any] | None = None) -> pd.DataFrame:
        """Run a query and return a pandas DataFrame (through Arrow)."""
        return self.execute(sql, params).df()

    def arrow(self, sql: str, params: list[Any] | dict[str, Any] | None = None) -> Any:
        """Run a query and return an Arrow table."""
        return self.execute(sql, params).to_arrow_table()

    def scalar(self, sql: str, params: list[Any] | dict[str, Any] | None = None) -> Any:
        """Run a query returning one value."""
        rows = self.execute(sql, params).fetchall()
        return rows[0][0] if rows else None

    def register(self, name: str, data: Any) -> None:
        """Expose a pandas DataFrame or Arrow table to SQL as the temporary view ``name``."""
        frame = _action(lambda: self.spark.createDataFrame(_to_arrow(data)), f"register {name}")
        frame.createOrReplaceTempView(name)
        self._views.add(name)

    def create_view(self, name: str, sql: str | None = None, *, parquet: str | Path | None = None,
                    cache: bool = False) -> None:
        """Name a query (DuckDB dialect) or a Parquet file as a temporary view; ``cache`` keeps
        its rows in executor memory once computed (for a table several later queries read).
        Replacing a view releases what the old one held."""
        reads: list[str] = []
        if parquet is not None:
            frame = _action(lambda: self.spark.read.parquet(str(parquet)), str(parquet))
        elif sql is not None:
            result = self.execute(sql)
            frame, reads = result.frame, result.detach()  # they live as long as the view
        else:
            raise ValueError("create_view needs sql or parquet")
        # The new frame is analysed already: what the old view held can go first.
        self._release(name)
        self._depends[name] = reads
        if cache:
            self._cache(name, frame)
        else:
            frame.createOrReplaceTempView(name)
            self._views.add(name)

    def unregister(self, name: str) -> None:
        self.spark.catalog.dropTempView(name)
        self._views.discard(name)
        self._release(name)

    def load_table(self, name: str, data: Any, columns: Sequence[tuple[str, str]]) -> None:
        """``data``'s rows (a DataFrame or Arrow table holding ``columns``) as the cached view
        ``name``, each column cast to its SQL type."""
        source = f"_raw_{name}"
        self.register(source, data)
        casts = ", ".join(f"CAST({c} AS {t}) AS {c}" for c, t in columns)
        self.create_view(name, f"SELECT {casts} FROM {source}")

    def append_rows(self, name: str, sql: str) -> None:
        """Add a query's rows to the cached view ``name`` (created by the first call)."""
        frame = self.execute(sql).frame
        earlier = self._appended.get(name)
        frame = frame if earlier is None else earlier.unionByName(frame)
        self._appended[name] = frame
        self._release(name)
        self._cache(name, frame)

    def drop_table(self, name: str) -> None:
        self._appended.pop(name, None)
        if name in self._views:
            self.unregister(name)

    def _release(self, name: str) -> None:
        """Free what the view ``name`` holds: its cached rows and the CTE views it reads."""
        cached = self._cached.pop(name, None)
        if cached is not None:
            cached.unpersist()
        self._drop_views(self._depends.pop(name, []))

    def tables(self) -> set[str]:
        """Names of the temporary views (the contract tables and registered frames; not the raw
        Parquet views behind the contract tables)."""
        return {t.name for t in self.spark.catalog.listTables()
                if t.isTemporary and not t.name.startswith("_raw_")}

    def copy_to_parquet(self, sql: str, out: str | Path, *, partition_by: tuple[str, ...] = (),
                        append_as: str | None = None) -> None:
        """Write a query's rows as Parquet under ``out`` (hive-partitioned by ``partition_by``),
        by the executors, in parallel: nothing passes through the driver. ``append_as``: add
        to the files already there (Spark names its files itself)."""
        result = self.execute(sql)
        writer = result.frame.write.mode("overwrite" if append_as is None else "append")
        if partition_by:
            writer = writer.partitionBy(*partition_by)
        result._fetch(lambda: writer.parquet(str(out)))

    def splink_api(self) -> Any:
        """Splink's Spark API on this engine's session (its views visible to Splink)."""
        from splink import SparkAPI

        return SparkAPI(spark_session=self.spark)

    def close(self) -> None:
        """Drop this engine's views; the shared JVM stays up for the next engine."""
        for name in list(self._views):
            self.spark.catalog.dropTempView(name)
        self._views.clear()
        for frame in self._cached.values():
            frame.unpersist()
        self._cached.clear()
        self._depends.clear()
        self._appended.clear()

    def __enter__(self) -> SparkEngine:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def open_spark_admin(data_dir: str | Path, *, settings: SparkSettings | None = None,
                     schema: Mapping[str, Sequence[tuple[str, str]]] | None = None
                     ) -> SparkEngine:
    """The national records of ``data_dir`` (its Parquet tables, cast to ``schema``) on
    Spark."""
    folder = Path(data_dir) / PARQUET_DIR
    if not (folder / "people").is_dir():
        raise UsageError(
            f"No national records found at {folder} (the Spark engine reads the Parquet tables).",
            hint="Generate synthetic records with `jdl synth --out DIR`, or load extracts with "
            "`jdl load EXTRACTS --out DIR` (see docs/data-contract.md).",
        )
    return SparkEngine(data_dir, settings=settings, schema=schema)


def spark_session(settings: SparkSettings | None = None) -> Any:
    """The process's Spark session: the active one, else started from ``settings`` (default:
    :class:`SparkSettings`' defaults).

    Raises a :class:`JDLError` (not a traceback) when pyspark or Java is missing.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise JDLError(
            "The Spark engine needs pyspark, which is not installed.",
            hint="pip install 'justice-data-lab[spark]' (or use --engine duckdb).",
        ) from exc
    with _LOCK:
        active = SparkSession.getActiveSession()
        if active is not None:
            return active
        settings = settings or SparkSettings()
        _check_java()
        # Checked here by the parity tests; pyspark's blanket warning would reach every user.
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas",
                                category=FutureWarning)
        warnings.filterwarnings("ignore", message="The copy keyword is deprecated",
                                module=r"pyspark\.")
        builder = SparkSession.builder.master(settings.master).appName(settings.app_name)
        for key, value in session_conf(settings).items():
            builder = builder.config(key, value)
        try:
            spark = builder.getOrCreate()
        except Exception as exc:  # the JVM failed to start (Java too old, bad master, memory)
            raise EngineError(f"Could not start Spark (master {settings.master}): {exc}") from exc
        spark.sparkContext.setLogLevel(settings.log_level)
        spark.sparkContext.setCheckpointDir(tempfile.mkdtemp(prefix="jdl-spark-checkpoints-"))
        return spark


def session_conf(settings: SparkSettings) -> dict[str, str]:
    """Spark options from the settings: ours first, the deployment's ``conf`` overriding."""
    scratch = Path(tempfile.mkdtemp(prefix="jdl-spark-"))
    log4j = scratch / "log4j2.properties"
    log4j.write_text(_LOG4J.format(level=settings.log_level.lower()))
    conf = {
        "spark.driver.memory": settings.driver_memory,
        "spark.driver.maxResultSize": settings.max_result_size,
        "spark.sql.shuffle.partitions": str(settings.shuffle_partitions),
        "spark.ui.enabled": str(settings.ui_enabled).lower(),
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.session.timeZone": "UTC",  # dates never shift with the machine's zone
        "spark.sql.warehouse.dir": str(scratch / "warehouse"),  # not ./spark-warehouse
        "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile=file:{log4j}",
    }
    jar = _splink_jar()
    if jar:
        conf["spark.jars"] = jar  # Splink's string-similarity UDFs (Jaro-Winkler...)
    conf.update(settings.conf)
    return conf


def stop_spark() -> None:
    """Stop the process's Spark session, if any (frees the JVM's memory)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        return
    active = SparkSession.getActiveSession()
    if active is not None:
        active.stop()


def _quiet_query_context_logs() -> None:
    """PySpark logs every failing query's analysed plan (thousands of lines of JSON) to stderr
    before raising; the :class:`EngineError` raised instead carries the message and the SQL."""
    import logging

    from pyspark.logger import PySparkLogger

    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        PySparkLogger.getLogger(name).setLevel(logging.CRITICAL + 1)


def _check_java() -> None:
    home = os.environ.get("JAVA_HOME")
    java = Path(home) / "bin" / "java" if home else None
    if (java is not None and java.exists()) or shutil.which("java"):
        return
    raise JDLError(
        "The Spark engine needs Java (17 or later), and none was found.",
        hint="Install a JDK (e.g. `apt-get install openjdk-17-jre-headless`) or set JAVA_HOME; "
        "or run with --engine duckdb.",
    )


def _splink_jar() -> str | None:
    try:
        from splink.backends.spark import similarity_jar_location
    except ImportError:
        return None
    return similarity_jar_location()


def _action(run: Any, sql: str) -> Any:
    """Run a Spark call, turning Spark's and the JVM's exceptions into an :class:`EngineError`."""
    from py4j.protocol import Py4JError
    from pyspark.errors import PySparkException

    try:
        return run()
    except (PySparkException, Py4JError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EngineError(f"Query failed on Spark: {first}", sql=sql) from exc


def _to_arrow(data: Any) -> Any:
    """A pandas DataFrame or Arrow table as Arrow, all-null columns typed as strings (Spark has
    no column type for "nothing known")."""
    import pyarrow as pa

    table = data if isinstance(data, pa.Table) else pa.Table.from_pandas(data, preserve_index=False)
    for i, field in enumerate(table.schema):
        if pa.types.is_null(field.type) or pa.types.is_large_string(field.type):
            table = table.set_column(i, field.name, table.column(i).cast(pa.string()))
    return table


def _as_duckdb_pandas(table: Any) -> pd.DataFrame:
    """Arrow to pandas as DuckDB's ``.df()`` does it, so both engines give equal frames: dates
    as ``datetime64[us]``; integer and boolean columns holding NULLs as pandas' nullable types
    (``Int64``, ``boolean``), without NULLs as numpy ones."""
    import pyarrow as pa

    nullable = {
        pa.int8(): pd.Int8Dtype(), pa.int16(): pd.Int16Dtype(), pa.int32(): pd.Int32Dtype(),
        pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype(),
    }
    columns = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        if pa.types.is_date(column.type):
            column = column.cast(pa.timestamp("us"))
        columns[name] = column
    frame = pa.table(columns).to_pandas(date_as_object=False)
    for name, column in columns.items():
        if column.null_count and column.type in nullable:
            frame[name] = column.to_pandas(types_mapper=nullable.get)
    return frame
