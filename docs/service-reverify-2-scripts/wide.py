import sys, datetime, decimal, pyarrow as pa, pyarrow.parquet as pq
out, kind, ncols, nrows = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
if kind == "ts":
    col = pa.array([datetime.datetime(2020,1,1)] * nrows, pa.timestamp("us"))
elif kind == "dec":
    col = pa.array([decimal.Decimal("1.5")] * nrows, pa.decimal128(10, 2))
elif kind == "str":
    col = pa.array([f"{i}" for i in range(nrows)])
elif kind == "int":
    col = pa.array(list(range(nrows)), pa.int64())
names = ["forename", "surname", "date_of_birth", "pnc_id"] + [f"x{i}" for i in range(ncols - 4)]
pq.write_table(pa.table({n: col for n in names}), out, compression="zstd")
