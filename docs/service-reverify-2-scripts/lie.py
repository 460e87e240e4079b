"""Write a Parquet file whose one string value is N bytes, then patch the footer's sizes to lie."""
import sys, struct, pyarrow as pa, pyarrow.parquet as pq
n = int(sys.argv[2]); out = sys.argv[1]
t = pa.table({"pnc_id": pa.array(["a" * n])})
pq.write_table(t, out, compression="zstd", compression_level=19, write_statistics=False, use_dictionary=True)
data = bytearray(open(out, "rb").read())
flen = struct.unpack("<I", data[-8:-4])[0]; fstart = len(data) - 8 - flen
meta = pq.ParquetFile(out).metadata
def zz(v): return (v << 1) ^ (v >> 63)
def varint(v, width=None):
    b = []
    while True:
        x = v & 0x7f; v >>= 7
        if v: b.append(x | 0x80)
        else: b.append(x); break
    if width:  # pad non-canonically to keep the same length
        while len(b) < width: b[-1] |= 0x80; b.append(0)
    return bytes(b)
targets = {meta.row_group(0).total_byte_size, meta.row_group(0).column(0).total_uncompressed_size}
footer = bytes(data[fstart:len(data)-8])
for v in targets:
    enc = varint(zz(v)); rep = varint(zz(1000), len(enc))
    c = footer.count(enc); print("value", v, "occurs", c)
    footer = footer.replace(enc, rep)
data[fstart:len(data)-8] = footer
open(out, "wb").write(data)
m = pq.ParquetFile(out).metadata
print("patched:", m.row_group(0).total_byte_size, m.row_group(0).column(0).total_uncompressed_size, "size", len(data))
