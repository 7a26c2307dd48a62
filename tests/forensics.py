"""sqlite_forensics: read a copied SQLite instance folder (db, -wal, -shm) as an attacker would.

Pure standard library, raw bytes only (https://www.sqlite.org/fileformat2.html); sqlite3 is
used only to open the snapshots this module reconstructs. See NOTES.md for the API tour.
"""
import os
import sqlite3
import struct
import tempfile
from collections import Counter, namedtuple
from contextlib import closing

PAGE_KINDS = {2: "index interior", 5: "table interior", 10: "index leaf", 13: "table leaf"}
ENCODINGS = {1: "utf-8", 2: "utf-16-le", 3: "utf-16-be"}
INT_SIZES = (0, 1, 2, 3, 4, 6, 8)


def varint(buf, off):
    """SQLite's big-endian varint (1-9 bytes) at buf[off]: (value, offset after it)."""
    v = 0
    for i in range(8):
        b = buf[off + i]
        v = (v << 7) | (b & 0x7F)
        if b < 0x80:
            return v, off + i + 1
    return (v << 8) | buf[off + 8], off + 9


def decode_record(payload, encoding="utf-8"):
    """The column values of a record. A truncated payload (overflow not followed, carved
    bytes) yields the values that fit, then the cut text/blob's part, and never raises."""
    hlen, p = varint(payload, 0)
    types = []
    while p < hlen:
        t, p = varint(payload, p)
        types.append(t)
    values, q = [], hlen
    for t in types:
        if t in (0, 8, 9):
            v, n = (None if t == 0 else t - 8), 0
        elif t <= 6:
            n = INT_SIZES[t]
            v = int.from_bytes(payload[q:q + n], "big", signed=True)
        elif t == 7:
            n = 8
            v = struct.unpack(">d", payload[q:q + 8])[0] if q + 8 <= len(payload) else None
        elif t >= 12:
            n = (t - 12) // 2
            raw = bytes(payload[q:q + n])
            v = raw if t % 2 == 0 else raw.decode(encoding, "replace")
        else:
            raise ValueError(f"reserved serial type {t}")
        if q + n > len(payload):
            if t >= 12:
                values.append(v)  # the part of the text/blob that is there
            break
        values.append(v)
        q += n
    return values


Header = namedtuple("Header", "page_size usable reserved write_version read_version change_counter "
                              "page_count freelist_trunk freelist_count schema_format encoding "
                              "auto_vacuum sqlite_version")


def parse_header(data):
    """The 100-byte database header; page_count falls back to the file size when stale."""
    if data[:16] != b"SQLite format 3\x00":
        raise ValueError("not an SQLite 3 database")
    ps = struct.unpack(">H", data[16:18])[0]
    ps = 65536 if ps == 1 else ps
    counter, npages, trunk, nfree, _cookie, fmt = struct.unpack(">6I", data[24:48])
    enc = struct.unpack(">I", data[56:60])[0] or 1
    valid_for, version = struct.unpack(">2I", data[92:100])
    if npages == 0 or counter != valid_for:
        npages = len(data) // ps
    return Header(ps, ps - data[20], data[20], data[18], data[19], counter, npages, trunk, nfree,
                  fmt, ENCODINGS.get(enc, "utf-8"), struct.unpack(">I", data[52:56])[0], version)


def page_bytes(data, pgno, page_size):
    """The bytes of page pgno (1-based); short or empty past the end of the file."""
    return data[(pgno - 1) * page_size:pgno * page_size]


Page = namedtuple("Page", "number kind first_freeblock ncells content_start fragmented right_child "
                          "cell_offsets header_offset")


def parse_page(buf, pgno):
    """The b-tree page header and cell pointer array of one page image (page 1: from byte 100)."""
    h = 100 if pgno == 1 else 0
    kind = buf[h]
    if kind not in PAGE_KINDS:
        raise ValueError(f"page {pgno}: not a b-tree page (type byte {kind})")
    fb, n, cs, frag = struct.unpack_from(">HHHB", buf, h + 1)
    right = struct.unpack_from(">I", buf, h + 8)[0] if kind in (2, 5) else None
    ptrs = struct.unpack_from(f">{n}H", buf, h + (8 if right is None else 12))
    return Page(pgno, kind, fb, n, cs or 65536, frag, right, list(ptrs), h)


def freeblocks(buf, page):
    """(offset, size) of each freeblock: holes where deleted or moved cells' bytes may remain."""
    out, off = [], page.first_freeblock
    while off and off + 4 <= len(buf) and len(out) < len(buf) // 4:
        nxt, size = struct.unpack_from(">HH", buf, off)
        out.append((off, size))
        off = nxt if nxt > off else 0  # the chain is in increasing order; stop on a loop
    return out


class Cell(namedtuple("Cell", "page offset record")):
    """(page, offset, record) plus attributes: rowid (table b-trees), left_child (interior
    cells), overflow (first overflow page or 0), size (bytes the cell takes in its page)."""
    rowid = left_child = None
    overflow = size = 0


def _local_size(p, usable, table_leaf):
    x = usable - 35 if table_leaf else (usable - 12) * 64 // 255 - 23
    if p <= x:
        return p
    m = (usable - 12) * 32 // 255 - 23
    k = m + (p - m) % (usable - 4)
    return k if k <= x else m


def _overflow_chain(data, hdr, pgno, need):
    out, seen = bytearray(), []
    while pgno and need > 0 and pgno not in seen and pgno <= len(data) // hdr.page_size:
        seen.append(pgno)
        b = page_bytes(data, pgno, hdr.page_size)
        out += b[4:hdr.usable][:need]
        need -= hdr.usable - 4
        pgno = struct.unpack(">I", b[:4])[0]
    return bytes(out), seen


def parse_cell(buf, page, off, usable, encoding="utf-8", data=None, hdr=None):
    """Decode the cell at offset off of a page image. With data and hdr (the whole file),
    overflow chains are followed; without, the record is cut at the local part (no crash)."""
    p, left, rowid = off, None, None
    if page.kind in (2, 5):
        left = struct.unpack_from(">I", buf, p)[0]
        p += 4
    if page.kind == 5:
        rowid, p = varint(buf, p)
        cell = Cell(page.number, off, None)
        cell.rowid, cell.left_child, cell.size = rowid, left, p - off
        return cell
    total, p = varint(buf, p)
    if page.kind == 13:
        rowid, p = varint(buf, p)
    local = _local_size(total, usable, page.kind == 13)
    payload, ovf = bytes(buf[p:p + local]), 0
    if local < total:
        ovf = struct.unpack_from(">I", buf, p + local)[0]
        if data is not None:
            payload += _overflow_chain(data, hdr, ovf, total - local)[0]
    try:
        record = decode_record(payload, encoding)
    except (ValueError, IndexError):
        record = None  # garbage: a carved or corrupt cell
    cell = Cell(page.number, off, record)
    cell.rowid, cell.left_child, cell.overflow = rowid, left, ovf
    cell.size = p - off + local + (4 if ovf else 0)
    return cell


def page_cells(buf, pgno, usable, encoding="utf-8", data=None, hdr=None):
    """Every cell of one page image (a db page or a WAL frame's page), in cell-pointer order."""
    page = parse_page(buf, pgno)
    return [parse_cell(buf, page, off, usable, encoding, data, hdr) for off in page.cell_offsets]


def btree_pages(data, root_page, hdr=None):
    """Every Page of the b-tree rooted at root_page, depth first in key order (loop-safe)."""
    hdr = hdr or parse_header(data)
    stack, seen = [root_page], set()
    while stack:
        pgno = stack.pop()
        if pgno in seen or not 0 < pgno <= len(data) // hdr.page_size:
            continue
        seen.add(pgno)
        buf = page_bytes(data, pgno, hdr.page_size)
        page = parse_page(buf, pgno)
        yield page
        if page.right_child is not None:
            kids = [struct.unpack_from(">I", buf, o)[0] for o in page.cell_offsets]
            stack.extend(reversed(kids + [page.right_child]))


def btree_cells(data, root_page, interior=False):
    """Yield Cell(page, offset, record) for every leaf cell of the b-tree at root_page.
    Index b-trees (indexes and WITHOUT ROWID tables) keep real entries in their interior
    cells too: interior=True yields those as well."""
    hdr = parse_header(data)
    for page in btree_pages(data, root_page, hdr):
        if page.kind in (10, 13) or (interior and page.kind == 2):
            buf = page_bytes(data, page.number, hdr.page_size)
            for off in page.cell_offsets:
                yield parse_cell(buf, page, off, hdr.usable, hdr.encoding, data, hdr)


SchemaRow = namedtuple("SchemaRow", "type name tbl_name rootpage sql")


def schema(data):
    """The rows of sqlite_schema, the table b-tree rooted at page 1."""
    return [SchemaRow(*(c.record + [None] * 5)[:5]) for c in btree_cells(data, 1)]


def root_pages(data):
    """{name: root page} of every table and index with a b-tree, sqlite_schema included."""
    return {"sqlite_schema": 1, **{r.name: r.rootpage for r in schema(data) if r.rootpage}}


def root_page(data, name):
    return root_pages(data)[name]


def insertion_order(data, table):
    """The attacker's guess at the order in which the cells of a table or index were written.
    table: a name from sqlite_schema or a root page number. Returns the leaf Cells (and the
    interior cells of index b-trees, which are real entries) page by page in page-number
    order, and within a page from the highest content offset to the lowest: oldest first.

    Why: a new cell is carved from the low end of the cell content area, which grows down
    from the end of the page, so within a page a higher offset means written earlier. Exact
    while a page only ever had cells appended. Limits:
      * a new cell may instead fill a freeblock left by a deleted or moved cell (looks old);
      * an UPDATE that changes a record's size drops and rewrites the cell (it looks new);
        one that keeps the size rewrites it in place (keeps its age);
      * defragmentation and VACUUM/REINDEX/CREATE INDEX write cells packed in key order (no
        information); a page split moves cells between siblings by editing pages in place,
        which blurs the order without erasing it;
      * across pages, offsets say nothing; page numbers are a weak hint at best.
    """
    root = table if isinstance(table, int) else root_page(data, table)
    return sorted(btree_cells(data, root, interior=True), key=lambda c: (c.page, -c.offset))


def freelist(data, hdr=None):
    """(trunk pages, leaf pages). Freed pages keep their old bytes unless secure_delete."""
    hdr = hdr or parse_header(data)
    trunks, leaves, pgno = [], [], hdr.freelist_trunk
    while pgno and pgno not in trunks and pgno <= len(data) // hdr.page_size:
        buf = page_bytes(data, pgno, hdr.page_size)
        nxt, n = struct.unpack(">II", buf[:8])
        n = min(n, hdr.usable // 4 - 2)
        trunks.append(pgno)
        leaves += struct.unpack(f">{n}I", buf[8:8 + 4 * n])
        pgno = nxt
    return trunks, leaves


def page_owners(data):
    """{page: owner} for every page: a table or index name, 'overflow:<name>', 'freelist-trunk',
    'freelist-leaf', or 'unaccounted' (ptrmap pages, the lock-byte page, pages past a stale size)."""
    hdr = parse_header(data)
    owners = {}
    for name, root in root_pages(data).items():
        for page in btree_pages(data, root, hdr):
            owners[page.number] = name
            buf = page_bytes(data, page.number, hdr.page_size)
            for off in page.cell_offsets if page.kind != 5 else ():
                cell = parse_cell(buf, page, off, hdr.usable)
                owners.update({p: "overflow:" + name for p in
                               _overflow_chain(data, hdr, cell.overflow, 1 << 40)[1]})
    trunks, leaves = freelist(data, hdr)
    owners.update({p: "freelist-trunk" for p in trunks})
    owners.update({p: "freelist-leaf" for p in leaves})
    for pgno in range(1, len(data) // hdr.page_size + 1):
        owners.setdefault(pgno, "unaccounted")
    return owners


def scan_pages(data, needle, page_size=None):
    """Yield (page, offset in page) of every occurrence of needle (bytes or str) in any page."""
    needle = needle.encode() if isinstance(needle, str) else needle
    ps = page_size or parse_header(data).page_size
    for i in range(len(data) // ps):
        buf, start = data[i * ps:(i + 1) * ps], 0
        while (hit := buf.find(needle, start)) >= 0:
            yield i + 1, hit
            start = hit + 1


# ---------------------------------------------------------------- WAL

WalHeader = namedtuple("WalHeader", "magic version page_size checkpoint_seq salt1 salt2 cksum1 cksum2 big_endian")
WalFrame = namedtuple("WalFrame", "index offset page commit_size salt1 salt2 cksum1 cksum2 data status")
WalTxn = namedtuple("WalTxn", "frames commit_size salts status")


def _wal_cksum(b, s0, s1, big):
    w = struct.unpack(f"{'>' if big else '<'}{len(b) // 4}I", b)
    for i in range(0, len(w), 2):
        s0 = (s0 + w[i] + s1) & 0xFFFFFFFF
        s1 = (s1 + w[i + 1] + s0) & 0xFFFFFFFF
    return s0, s1


def parse_wal(wal):
    """(WalHeader, [WalFrame]) for every whole frame; (None, []) if too short. Frame status:
    'valid' = what SQLite reads (salts match the header, checksum chain intact, at or before
    the last commit frame); 'uncommitted' = good chain, no commit after; 'broken' = salts match
    but the chain broke at or before it; 'stale' = other salts: left from before a WAL restart,
    ignored by SQLite, still readable by an attacker."""
    if len(wal) < 32:
        return None, []
    magic, version, ps, seq, salt1, salt2, c1, c2 = struct.unpack(">8I", wal[:32])
    if magic not in (0x377F0682, 0x377F0683):
        raise ValueError("not a WAL file")
    big = magic & 1
    s = _wal_cksum(wal[:24], 0, 0, big)
    ok, frames, last_commit, off = s == (c1, c2), [], -1, 32
    while off + 24 + ps <= len(wal):
        pgno, commit, fs1, fs2, fc1, fc2 = struct.unpack(">6I", wal[off:off + 24])
        body = wal[off + 24:off + 24 + ps]
        status = "stale"
        if (fs1, fs2) == (salt1, salt2):
            if ok:
                s = _wal_cksum(body, *_wal_cksum(wal[off:off + 8], *s, big), big)
                ok = pgno != 0 and s == (fc1, fc2)
            status = "uncommitted" if ok else "broken"
            last_commit = len(frames) if ok and commit else last_commit
        frames.append(WalFrame(len(frames), off, pgno, commit, fs1, fs2, fc1, fc2, body, status))
        off += 24 + ps
    return (WalHeader(magic, version, ps, seq, salt1, salt2, c1, c2, bool(big)),
            [f._replace(status="valid") if f.status == "uncommitted" and f.index <= last_commit
             else f for f in frames])


def wal_transactions(wal, include_stale=False):
    """Frames grouped into transactions in file order: runs of frames with the same salts and
    status, each ending at a frame whose 'database size after commit' is non-zero (a trailing
    run without one has commit_size 0). Only status 'valid' unless include_stale."""
    txns, cur = [], []
    for f in parse_wal(wal)[1]:
        if cur and (cur[-1].salt1, cur[-1].salt2, cur[-1].status) != (f.salt1, f.salt2, f.status):
            txns.append(cur)
            cur = []
        cur.append(f)
        if f.commit_size:
            txns.append(cur)
            cur = []
    txns += [cur] if cur else []
    out = [WalTxn(t, t[-1].commit_size, (t[0].salt1, t[0].salt2), t[0].status) for t in txns]
    return out if include_stale else [t for t in out if t.status == "valid"]


def _apply(img, txn):
    ps = len(txn.frames[0].data)
    for f in txn.frames:
        img.extend(bytes(max(0, f.page * ps - len(img))))  # grow the file if needed
        img[(f.page - 1) * ps:f.page * ps] = f.data
    if txn.commit_size:
        del img[txn.commit_size * ps:]


def _rollback_mode(img):
    img = bytearray(img)
    if len(img) >= 20:
        img[18:20] = b"\x01\x01"  # rollback, not WAL: sqlite3 then looks for no -wal
    return bytes(img)


def apply_wal(db_bytes, wal_bytes, upto=None):
    """The database image after the first `upto` valid commits of the WAL (default: all),
    as a rollback-mode database (header bytes 18-19 = 1): what a reader would see."""
    img = bytearray(db_bytes)
    for txn in wal_transactions(wal_bytes)[:upto]:
        _apply(img, txn)
    return _rollback_mode(img)


def write_image(img, path):
    """Write a database image to path in rollback mode, so that sqlite3 opens it alone."""
    with open(path, "wb") as fh:
        fh.write(_rollback_mode(img))
    return path


Snapshot = namedtuple("Snapshot", "index path pages commit_size frames salts")


def wal_snapshots(db_bytes, wal_bytes, directory=None, stale=False):
    """For each committed WAL transaction in order, the database as of that commit, written
    to a file in directory (default: a new temp dir) that sqlite3 opens as a plain database.
    Returns [Snapshot(index, path, pages written, commit_size, frames, salts)].

    Pages the WAL never touched come from db_bytes, which may hold later, checkpointed
    versions; consecutive snapshots still differ by exactly one transaction. stale=True
    does the same with the stale frames a WAL restart leaves: each generation (salts) starts
    again from db_bytes, so its first snapshots mix old pages into a newer file and their
    diffs can be nonsense; later ones diff exactly."""
    directory = directory or tempfile.mkdtemp(prefix="wal-snapshots-")
    txns = [t for t in wal_transactions(wal_bytes, include_stale=stale)
            if t.commit_size and (t.status == "stale") == stale]
    img, out, salts = None, [], None
    for i, txn in enumerate(txns):
        if txn.salts != salts:
            img, salts = bytearray(db_bytes), txn.salts
        _apply(img, txn)
        path = write_image(img, os.path.join(directory, f"snapshot-{i:05d}.sqlite"))
        out.append(Snapshot(i, path, sorted({f.page for f in txn.frames}), txn.commit_size,
                            txn.frames, txn.salts))
    return out


def table_rows(path):
    """{table: Counter of row tuples} for every table of a database file, opened read-only."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")]
        return {n: Counter(conn.execute(f'SELECT * FROM "{n}"')) for n in names}


def snapshot_diffs(snapshots, base=None):
    """For each snapshot, {table: (rows added, rows removed)} for the tables that changed since
    the snapshot before it in the same generation, or, for the first of a generation, since the
    database file at path base (or an empty database). An UPDATE is one row out, one row in."""
    base_rows = table_rows(base) if base else {}
    prev, salts, out = base_rows, None, []
    for snap in snapshots:
        if snap.salts != salts:
            prev, salts = base_rows, snap.salts
        cur, diff = table_rows(snap.path), {}
        for t in set(cur) | set(prev):
            a, b = cur.get(t, Counter()), prev.get(t, Counter())
            if a != b:
                diff[t] = (list((a - b).elements()), list((b - a).elements()))
        out.append(diff)
        prev = cur
    return out


# ---------------------------------------------------------------- -shm (the wal-index)

ShmInfo = namedtuple("ShmInfo", "version change_counter page_size mx_frame n_page salt1 salt2 "
                                "n_backfill frame_pages")


def parse_shm(shm):
    """The wal-index header (native byte order) and the page number in every frame slot of
    its hash tables: frame_pages[i] is the page WAL frame i+1 wrote. Slots past mx_frame are
    included: they describe frames SQLite no longer reads (e.g. after a truncating checkpoint)."""
    if len(shm) < 136:
        return None
    ver, _, change, _init, _big, szp, mx, npage = struct.unpack_from("=3IBBH2I", shm, 0)
    s1, s2 = struct.unpack_from(">2I", shm, 32)  # copied byte for byte from the WAL header
    pages = []
    for block in range((len(shm) + 32767) // 32768):  # 32 KiB blocks; block 0 starts with headers
        start, n = (136, 4062) if block == 0 else (block * 32768, 4096)
        chunk = shm[start:start + 4 * n]
        pages += struct.unpack(f"={len(chunk) // 4}I", chunk[:len(chunk) // 4 * 4])
    while pages and pages[-1] == 0:
        pages.pop()
    return ShmInfo(ver, change, 65536 if szp == 1 else szp, mx, npage, s1, s2,
                   struct.unpack_from("=I", shm, 96)[0], pages)
