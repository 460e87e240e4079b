import codecs, zipfile, pyarrow as pa, pyarrow.parquet as pq, sys
H = "forename,surname,date_of_birth,pnc_id\n"
# CSV
open("c_utf16.csv","wb").write(codecs.BOM_UTF16_LE + (H + "a,b,2000-01-01,1\n"*60000).encode("utf-16-le"))
open("c_quotes.csv","w").write(H + '""""""""""""""""""""\n'*100000)
open("c_bigfield.csv","w").write(H + 'a,"' + "x\n"*1000000 + '",2000-01-01,1\n')
open("c_bomtrick.csv","wb").write(codecs.BOM_UTF8 + codecs.BOM_UTF16_LE + (H*1).encode() + b"a,b,c,d\n"*200000)
open("c_seps.csv","w").write(H + ",,,\n"*500000)
# Parquet: many row groups
t = pa.table({"forename": ["a"]*20000, "pnc_id": [1]*20000})
pq.write_table(t, "p_rowgroups.parquet", row_group_size=1)
# xlsx via sparse base: duplicate exact name, styles with many xf, percent-encoded part
sys.argv = ["", "base.xlsx", "B2"]; exec(open("sparse.py").read())
src = zipfile.ZipFile("base.xlsx")
def rebuild(out, extra=(), replace=None):
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for i in src.infolist():
            data = src.read(i)
            if replace and i.filename in replace: data = replace[i.filename]
            z.writestr(i.filename, data)
        for name, data in extra: z.writestr(name, data)
import warnings; warnings.simplefilter("ignore")
big = ('<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>forename</t></is></c></row><row r="2"><c r="XFD2000"><v>1</v></c></row></sheetData></worksheet>').encode()
rebuild("x_dup.xlsx", extra=[("xl/worksheets/sheet1.xml", big)])
xf = '<xf numFmtId="14" fontId="0" fillId="0" borderId="0" applyNumberFormat="1"/>'
styles = ('<?xml version="1.0"?><styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><cellXfs count="3000000">' + xf*3000000 + '</cellXfs></styleSheet>').encode()
rebuild("x_styles.xlsx", extra=[("xl/styles.xml", styles)])
rebuild("x_pct.xlsx", extra=[("xl/worksheets/sheet%31.xml", big)])
