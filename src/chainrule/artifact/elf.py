"""Checks on an artifact's native payload before the dynamic loader or LLVM sees it.

dlopen and LLVM's RuntimeDyld trust their input: an object file with a
section past the end of the file, a relocation type RuntimeDyld does not
implement or a symbol it cannot resolve crashes or aborts the process
instead of raising. So the loader reads the ELF64 little-endian structure
here first and refuses anything outside what chainrule's exporter emits,
with an ArtifactError naming what is wrong. This turns damage and mix-ups
into errors; it is not a sandbox (well-formed code still runs as it likes).

Standalone on purpose (pure Python, no llvmlite); backends/llvm/cache.py has
its own small reader of undefined symbols for the linker.
"""

from __future__ import annotations

import platform
import struct
import sys

from .errors import ArtifactError

EM_X86_64, EM_AARCH64 = 62, 183
ET_REL, ET_DYN = 1, 3
SHT_NULL, SHT_SYMTAB, SHT_STRTAB, SHT_RELA, SHT_NOBITS, SHT_REL = 0, 2, 3, 4, 8, 9
SHF_TLS = 0x400
SHN_UNDEF, SHN_LORESERVE, SHN_ABS, SHN_COMMON = 0, 0xFF00, 0xFFF1, 0xFFF2
STT_FUNC, STT_TLS = 2, 6
STB_WEAK = 2
PT_LOAD = 1

_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
_SHDR = struct.Struct("<IIQQQQIIQQ")
_PHDR = struct.Struct("<IIQQQQQQ")
_SYM = struct.Struct("<IBBHQQ")
_RELA = struct.Struct("<QQq")
MAX_ALLOC = 1 << 30      # zero-filled sections and common symbols: more is not ours
MAX_ALIGN = 1 << 16

# Relocation types RuntimeDyldELF implements, and the bytes each one writes (any other type
# reaches an llvm_unreachable/abort). x86-64: what the exporter emits (64, PC32, PLT32) and the
# GOT forms PIC code may use; AArch64: the absolute, PC-relative, branch, page and GOT forms.
RELOCATIONS = {
    EM_X86_64: {0: 0, 1: 8, 2: 4, 4: 4, 9: 4, 10: 4, 11: 4, 24: 8, 41: 4, 42: 4},
    EM_AARCH64: {0: 0, 257: 8, 258: 4, 260: 8, 261: 4, 264: 4, 266: 4, 268: 4, 269: 4, 274: 4, 275: 4, 277: 4,
                 278: 4, 279: 4, 280: 4, 282: 4, 283: 4, 284: 4, 285: 4, 286: 4, 299: 4, 311: 4, 312: 4},
}
_MACHINES = {"x86_64": EM_X86_64, "amd64": EM_X86_64, "aarch64": EM_AARCH64, "arm64": EM_AARCH64}
_NAMES = {EM_X86_64: "x86-64", EM_AARCH64: "aarch64"}


def host_uses_elf() -> bool:
    """Whether this OS loads ELF files (not macOS's Mach-O or Windows's PE)."""
    return sys.platform.startswith(("linux", "freebsd", "netbsd", "openbsd", "sunos"))


def host_machine() -> int | None:
    """The ELF e_machine of this host (x86-64 or aarch64), or None for another architecture or a
    host that does not use ELF."""
    return _MACHINES.get(platform.machine().lower()) if host_uses_elf() else None


def _bad(what: str, msg: str):
    raise ArtifactError(f"the native {what} is malformed: {msg}")


def _header(data: bytes, what: str, e_type: int, machine: int | None):
    if len(data) < _EHDR.size or data[:4] != b"\x7fELF":
        _bad(what, "not an ELF file")
    h = _EHDR.unpack_from(data)
    ident = h[0]
    if ident[4] != 2 or ident[5] != 1:
        _bad(what, "not 64-bit little-endian ELF")
    if h[1] != e_type:
        want = {ET_REL: "a relocatable object (ET_REL)", ET_DYN: "a shared library (ET_DYN)"}[e_type]
        _bad(what, f"ELF type {h[1]}, expected {want}")
    if machine is not None and h[2] != machine:
        _bad(what, f"built for ELF machine {h[2]} ({_NAMES.get(h[2], 'unknown')}), this host is "
                   f"{machine} ({_NAMES[machine]})")
    return h


def _table(data, what, off, num, entsize, want, name):
    if num and entsize != want.size:
        _bad(what, f"{name} entries of {entsize} bytes, expected {want.size}")
    if off + num * want.size > len(data):
        _bad(what, f"{name} table (offset {off}, {num} entries) runs past the end of the file ({len(data)} bytes)")
    return [want.unpack_from(data, off + k * want.size) for k in range(num)]


def check_shared_library(data: bytes, machine: int | None = None) -> None:
    """Raise ArtifactError unless `data` is an ELF64 LE shared library for `machine` whose
    program headers and loadable segments lie within the file."""
    what = "library"
    h = _header(data, what, ET_DYN, machine)
    for p in _table(data, what, h[5], h[10], h[9], _PHDR, "program header"):
        p_type, _flags, off, _vaddr, _paddr, filesz = p[:6]
        if p_type == PT_LOAD and off + filesz > len(data):
            _bad(what, f"a loadable segment (offset {off}, {filesz} bytes) runs past the end of the file")


def _string(data, what, table, index):
    """The NUL-terminated string at `index` of string table section `table` (a section tuple)."""
    off, size = table[4], table[5]
    if index >= size:
        _bad(what, f"a name index ({index}) lies outside its string table ({size} bytes)")
    end = data.find(b"\0", off + index, off + size)
    if end < 0:
        _bad(what, "a name runs past the end of its string table")
    try:
        return data[off + index:end].decode("ascii")
    except UnicodeDecodeError:
        _bad(what, "a symbol name is not ASCII")


def check_object(data: bytes, symbol: str, machine: int | None = None) -> set[str]:
    """Check a relocatable object before RuntimeDyld links it; returns the names of the
    non-weak symbols it leaves undefined (the caller checks that the process defines them).

    machine: the host's e_machine (host_machine()); objects load only on x86-64 and aarch64."""
    what = "object code"
    if machine not in RELOCATIONS:
        raise ArtifactError("object-code payloads are checked and loaded only on x86-64 and aarch64 ELF hosts "
                            "(Linux, the BSDs)")
    h = _header(data, what, ET_REL, machine)
    shoff, shentsize, shnum, shstrndx = h[6], h[11], h[12], h[13]
    if shnum == 0 or shstrndx >= shnum:
        _bad(what, f"{shnum} sections, section-name table index {shstrndx}")
    secs = _table(data, what, shoff, shnum, shentsize, _SHDR, "section header")
    nobits = 0
    for k, (_name, kind, flags, _addr, off, size, _link, _info, align, _entsize) in enumerate(secs):
        if align & (align - 1) or align > MAX_ALIGN:
            _bad(what, f"section {k} has alignment {align}")
        if flags & SHF_TLS:
            _bad(what, f"section {k} is thread-local storage, which chainrule never emits")
        if kind == SHT_NOBITS:
            nobits += size
        elif kind != SHT_NULL and off + size > len(data):
            _bad(what, f"section {k} (offset {off}, {size} bytes) runs past the end of the file ({len(data)} bytes)")
        if kind == SHT_REL:
            _bad(what, f"section {k} holds REL relocations; only RELA are used on this machine")
    if nobits > MAX_ALLOC:
        _bad(what, f"{nobits} bytes of zero-filled sections")
    if secs[shstrndx][1] != SHT_STRTAB:
        _bad(what, "the section-name table is not a string table")
    for s in secs[1:]:
        _string(data, what, secs[shstrndx], s[0])
    symtabs = [k for k, s in enumerate(secs) if s[1] == SHT_SYMTAB]
    if len(symtabs) != 1:
        _bad(what, f"{len(symtabs)} symbol tables, expected 1")
    st = symtabs[0]
    syms, names = _symbols(data, what, secs, st)
    undefined, common = set(), 0
    want = f"{symbol}_call"
    found = False
    for (_n, info, _other, shndx, value, size), name in zip(syms[1:], names[1:]):
        if info & 0xF == STT_TLS:
            _bad(what, f"symbol {name!r} is thread-local, which chainrule never emits")
        if shndx == SHN_UNDEF:
            if name and info >> 4 != STB_WEAK:
                undefined.add(name)
        elif shndx == SHN_COMMON:
            common += size
        elif shndx < SHN_LORESERVE:
            if shndx >= shnum:
                _bad(what, f"symbol {name!r} names section {shndx} of {shnum}")
            if secs[shndx][1] != SHT_NOBITS and value > secs[shndx][5]:
                _bad(what, f"symbol {name!r} lies outside its section")
            if name == want and info & 0xF == STT_FUNC:
                found = True
        elif shndx != SHN_ABS:
            _bad(what, f"symbol {name!r} has the reserved section index {shndx:#x}")
    if common > MAX_ALLOC:
        _bad(what, f"{common} bytes of common symbols")
    if not found:
        raise ArtifactError(f"the native object code does not define the function {want}")
    for k, s in enumerate(secs):
        if s[1] == SHT_RELA:
            _relocations(data, what, secs, k, st, len(syms), RELOCATIONS[machine])
    return undefined


def _symbols(data, what, secs, st):
    _n, _kind, _flags, _addr, off, size, link, _info, _align, entsize = secs[st]
    if entsize != _SYM.size or size % _SYM.size:
        _bad(what, f"symbol table entries of {entsize} bytes in {size} bytes")
    if link >= len(secs) or secs[link][1] != SHT_STRTAB:
        _bad(what, "the symbol table's string table is not a string table")
    syms = _table(data, what, off, size // _SYM.size, _SYM.size, _SYM, "symbol")
    if not syms:
        _bad(what, "an empty symbol table")
    return syms, [_string(data, what, secs[link], s[0]) for s in syms]


def _relocations(data, what, secs, k, st, nsyms, allowed):
    _n, _kind, _flags, _addr, off, size, link, target, _align, entsize = secs[k]
    if entsize != _RELA.size or size % _RELA.size:
        _bad(what, f"relocation section {k} has entries of {entsize} bytes in {size} bytes")
    if link != st:
        _bad(what, f"relocation section {k} does not use the symbol table")
    if not 0 < target < len(secs) or secs[target][1] in (SHT_NULL, SHT_NOBITS):
        _bad(what, f"relocation section {k} applies to section {target}, which holds no data")
    tsize = secs[target][5]
    for r_offset, r_info, _addend in _table(data, what, off, size // _RELA.size, _RELA.size, _RELA, "relocation"):
        rtype, rsym = r_info & 0xFFFFFFFF, r_info >> 32
        width = allowed.get(rtype)
        if width is None:
            _bad(what, f"relocation type {rtype} in section {k} is not one LLVM's RuntimeDyld implements here")
        if rsym >= nsyms:
            _bad(what, f"a relocation in section {k} names symbol {rsym} of {nsyms}")
        if r_offset + width > tsize:
            _bad(what, f"a relocation in section {k} writes at {r_offset}, outside its {tsize}-byte section")
