package dev.cvpt.io;

import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A restricted unpickler for the data.pkl of torch.save files. It interprets the pickle opcodes
 * itself and never looks up a class: the only globals it accepts are the few names torch uses for
 * dicts and tensors, and each of those is given a fixed meaning here. Everything else is refused
 * when it is named, before it could be called.
 *
 * <p>Values: None is {@code null}, bool {@link Boolean}, int {@link Long} or {@link BigInteger},
 * float {@link Double}, str {@link String}, bytes {@code byte[]}, list {@link PList}, tuple
 * {@link PTuple}, dict and OrderedDict {@link PDict}, tensors {@link TensorRef}.
 */
final class TorchUnpickler {
    /** Deeper than any checkpoint nests; a bound keeps hostile nesting from exhausting memory or stack. */
    static final int MAX_DEPTH = 200;
    static final int MAX_STACK = 1 << 20;
    static final int MAX_MEMO = 1 << 20;

    /** A global the pickle may name; anything not listed here is refused. */
    enum Global {
        ORDERED_DICT("collections", "OrderedDict"),
        CODECS_ENCODE("_codecs", "encode"), // how protocol 2 pickles bytes: encode(str, 'latin1')
        REBUILD_TENSOR("torch._utils", "_rebuild_tensor"),
        REBUILD_TENSOR_V2("torch._utils", "_rebuild_tensor_v2"),
        REBUILD_PARAMETER("torch._utils", "_rebuild_parameter"),
        REBUILD_PARAMETER_WITH_STATE("torch._utils", "_rebuild_parameter_with_state"),
        REBUILD_FROM_TYPE_V2("torch._tensor", "_rebuild_from_type_v2"),
        TENSOR_TYPE("torch", "Tensor"),
        PARAMETER_TYPE("torch.nn.parameter", "Parameter"),
        FLOAT_STORAGE("torch", "FloatStorage", DType.F32),
        DOUBLE_STORAGE("torch", "DoubleStorage", DType.F64),
        HALF_STORAGE("torch", "HalfStorage", DType.F16),
        BFLOAT16_STORAGE("torch", "BFloat16Storage", DType.BF16),
        LONG_STORAGE("torch", "LongStorage", DType.I64),
        INT_STORAGE("torch", "IntStorage", DType.I32),
        SHORT_STORAGE("torch", "ShortStorage", DType.I16),
        CHAR_STORAGE("torch", "CharStorage", DType.I8),
        BYTE_STORAGE("torch", "ByteStorage", DType.U8),
        BOOL_STORAGE("torch", "BoolStorage", DType.BOOL),
        UNTYPED_STORAGE("torch", "UntypedStorage", DType.U8);

        final String module, name;
        final DType storageDtype; // null: not a storage type

        Global(String module, String name) { this(module, name, null); }

        Global(String module, String name, DType storageDtype) {
            this.module = module;
            this.name = name;
            this.storageDtype = storageDtype;
        }

        static Global find(String module, String name) {
            for (Global g : values()) if (g.module.equals(module) && g.name.equals(name)) return g;
            return null;
        }
    }

    /** Containers know how deep they nest; once inside another container they are frozen, which rules out cycles. */
    abstract static sealed class Container permits PList, PDict, PTuple {
        int depth = 1;
        boolean frozen;
    }

    static final class PList extends Container { final List<Object> items = new ArrayList<>(); }

    static final class PDict extends Container { final Map<Object, Object> items = new LinkedHashMap<>(); }

    static final class PTuple extends Container {
        final List<Object> items;

        PTuple(List<Object> items) { this.items = items; }
    }

    /** A storage named by a persistent id: its bytes are the archive entry data/KEY. */
    record Storage(DType dtype, String key, long numel) {}

    /** A tensor as a view of a storage; materialised only when it is wanted. */
    record TensorRef(Storage storage, long offset, long[] size, long[] stride) {}

    private final byte[] b;
    private final Path file;
    private int pos;
    private final List<Object> stack = new ArrayList<>();
    private final List<Integer> marks = new ArrayList<>();
    private final Map<Long, Object> memo = new HashMap<>();
    private final Map<String, Storage> storages = new HashMap<>();

    private TorchUnpickler(byte[] pickle, Path file) {
        this.b = pickle;
        this.file = file;
    }

    static Object load(byte[] pickle, Path file) {
        return new TorchUnpickler(pickle, file).run();
    }

    private CheckpointException bad(String what) {
        return new CheckpointException(file, null, "malformed data.pkl at byte " + pos + ": " + what);
    }

    private CheckpointException refuse(String module, String name) {
        return new CheckpointException(file, null, "refusing to load: the pickle names " + Zips.oneLine(module, 100) + "."
                + Zips.oneLine(name, 100) + " (only tensors, dicts and plain values are allowed)");
    }

    private Object run() {
        while (true) {
            if (pos >= b.length) throw bad("ends without STOP (truncated)");
            int op = b[pos++] & 0xff;
            switch (op) {
                case 0x80 -> { int proto = u8(); if (proto > 5) throw bad("unknown pickle protocol " + proto); } // PROTO
                case 0x95 -> u64();                                                  // FRAME: only a read-ahead hint
                case '.' -> {                                                        // STOP
                    if (stack.size() != 1 || !marks.isEmpty()) throw bad("STOP with " + stack.size() + " values on the stack");
                    return stack.get(0);
                }
                case '(' -> { if (marks.size() >= MAX_STACK) throw bad("too many marks"); marks.add(stack.size()); }
                case '0' -> pop();                                                   // POP
                case '1' -> popMark();                                               // POP_MARK
                case '2' -> { Object o = peek(); push(o); }                          // DUP
                case 'N' -> push(null);
                case 0x88 -> push(Boolean.TRUE);
                case 0x89 -> push(Boolean.FALSE);
                case 'I' -> {                                                        // INT (text)
                    String s = line();
                    push(s.equals("00") ? Boolean.FALSE : s.equals("01") ? Boolean.TRUE : parseInt(s));
                }
                case 'L' -> { String s = line(); push(parseInt(s.endsWith("L") ? s.substring(0, s.length() - 1) : s)); }
                case 'J' -> push((long) ByteBuffer.wrap(take(4)).order(ByteOrder.LITTLE_ENDIAN).getInt());
                case 'K' -> push((long) u8());
                case 'M' -> push((long) (u8() | u8() << 8));
                case 0x8a -> push(longBytes(take(u8())));                            // LONG1
                case 0x8b -> push(longBytes(take(length(u32()))));                   // LONG4
                case 'F' -> push(parseFloat(line()));
                case 'G' -> push(ByteBuffer.wrap(take(8)).getDouble());             // BINFLOAT is big-endian
                case 'X' -> push(utf8(take(length(u32()))));                         // BINUNICODE
                case 0x8c -> push(utf8(take(u8())));                                 // SHORT_BINUNICODE
                case 0x8d -> push(utf8(take(length(u64()))));                        // BINUNICODE8
                case 'T' -> push(new String(take(length(u32())), StandardCharsets.ISO_8859_1)); // BINSTRING
                case 'U' -> push(new String(take(u8()), StandardCharsets.ISO_8859_1)); // SHORT_BINSTRING
                case 'B' -> push(take(length(u32())));                               // BINBYTES
                case 'C' -> push(take(u8()));                                        // SHORT_BINBYTES
                case 0x8e -> push(take(length(u64())));                              // BINBYTES8
                case ']' -> push(new PList());
                case '}' -> push(new PDict());
                case ')' -> push(tuple(List.of()));
                case 'l' -> { PList l = new PList(); for (Object o : popMark()) append(l, o); push(l); }
                case 'd' -> { PDict d = new PDict(); setItems(d, popMark()); push(d); }
                case 't' -> push(tuple(popMark()));
                case 0x85 -> push(tuple(Arrays.asList(pop())));
                case 0x86 -> { Object y = pop(), x = pop(); push(tuple(Arrays.asList(x, y))); }
                case 0x87 -> { Object z = pop(), y = pop(), x = pop(); push(tuple(Arrays.asList(x, y, z))); }
                case 'a' -> { Object o = pop(); append(list(peek()), o); }
                case 'e' -> { List<Object> items = popMark(); PList l = list(peek()); for (Object o : items) append(l, o); }
                case 's' -> { Object v = pop(), k = pop(); setItems(dict(peek()), Arrays.asList(k, v)); }
                case 'u' -> { List<Object> kv = popMark(); setItems(dict(peek()), kv); }
                case 'p' -> put(parseIndex(line()));
                case 'q' -> put(u8());
                case 'r' -> put(u32());
                case 0x94 -> put(memo.size());                                       // MEMOIZE
                case 'g' -> get(parseIndex(line()));
                case 'h' -> get(u8());
                case 'j' -> get(u32());
                case 'c' -> { String module = line(), name = line(); push(global(module, name)); }
                case 0x93 -> {                                                       // STACK_GLOBAL
                    Object name = pop(), module = pop();
                    if (!(module instanceof String m) || !(name instanceof String n)) throw bad("STACK_GLOBAL needs two strings");
                    push(global(m, n));
                }
                case 'i' -> { String module = line(), name = line(); throw refuse(module, name); } // INST
                case 'R' -> { Object args = pop(), f = pop(); push(reduce(f, args)); }
                case 'b' -> build(pop(), peek());
                case 'Q' -> push(persistentLoad(pop()));                             // BINPERSID
                default -> throw bad(String.format("unsupported pickle opcode 0x%02x", op));
            }
        }
    }

    // ---- reading the byte stream ----

    private int u8() {
        if (pos >= b.length) throw bad("ends early (truncated)");
        return b[pos++] & 0xff;
    }

    private long u32() { return ByteBuffer.wrap(take(4)).order(ByteOrder.LITTLE_ENDIAN).getInt() & 0xffffffffL; }

    private long u64() { return ByteBuffer.wrap(take(8)).order(ByteOrder.LITTLE_ENDIAN).getLong(); }

    /** A length field, checked against what is left, so that a lie cannot make us allocate. */
    private int length(long n) {
        if (n < 0 || n > b.length - pos) throw bad("length " + Long.toUnsignedString(n) + " runs past the end of the pickle");
        return (int) n;
    }

    private byte[] take(int n) {
        if (n > b.length - pos) throw bad("ends early (truncated)");
        byte[] out = Arrays.copyOfRange(b, pos, pos + n);
        pos += n;
        return out;
    }

    private String line() {
        int start = pos;
        while (pos < b.length && b[pos] != '\n') pos++;
        if (pos >= b.length) throw bad("unterminated text argument");
        return new String(b, start, pos++ - start, StandardCharsets.UTF_8);
    }

    private String utf8(byte[] bytes) {
        var dec = StandardCharsets.UTF_8.newDecoder();
        try {
            return dec.decode(ByteBuffer.wrap(bytes)).toString();
        } catch (java.nio.charset.CharacterCodingException e) {
            throw bad("string is not valid UTF-8");
        }
    }

    private Object parseInt(String s) {
        try {
            BigInteger v = new BigInteger(s.strip());
            return v.bitLength() < 64 ? (Object) v.longValue() : v;
        } catch (NumberFormatException e) {
            throw bad("bad integer '" + Zips.oneLine(s, 40) + "'");
        }
    }

    private long parseIndex(String s) {
        Object v = parseInt(s);
        if (!(v instanceof Long l) || l < 0) throw bad("bad memo index");
        return l;
    }

    private double parseFloat(String s) {
        return switch (s.strip()) {
            case "inf" -> Double.POSITIVE_INFINITY;
            case "-inf" -> Double.NEGATIVE_INFINITY;
            case "nan" -> Double.NaN;
            default -> {
                try {
                    yield Double.parseDouble(s.strip());
                } catch (NumberFormatException e) {
                    throw bad("bad float '" + Zips.oneLine(s, 40) + "'");
                }
            }
        };
    }

    private static Object longBytes(byte[] le) {
        if (le.length == 0) return 0L;
        byte[] be = new byte[le.length];
        for (int i = 0; i < le.length; i++) be[i] = le[le.length - 1 - i];
        BigInteger v = new BigInteger(be);
        return v.bitLength() < 64 ? (Object) v.longValue() : v;
    }

    // ---- stack and memo ----

    private void push(Object o) {
        if (stack.size() >= MAX_STACK) throw bad("stack grows beyond " + MAX_STACK + " values");
        stack.add(o);
    }

    private Object pop() {
        int floor = marks.isEmpty() ? 0 : marks.get(marks.size() - 1);
        if (stack.size() <= floor) throw bad("stack underflow");
        return stack.remove(stack.size() - 1);
    }

    private Object peek() {
        int floor = marks.isEmpty() ? 0 : marks.get(marks.size() - 1);
        if (stack.size() <= floor) throw bad("stack underflow");
        return stack.get(stack.size() - 1);
    }

    private List<Object> popMark() {
        if (marks.isEmpty()) throw bad("no MARK to pop to");
        int m = marks.remove(marks.size() - 1);
        List<Object> top = stack.subList(m, stack.size());
        List<Object> out = new ArrayList<>(top);
        top.clear();
        return out;
    }

    private void put(long index) {
        if (memo.size() >= MAX_MEMO && !memo.containsKey(index)) throw bad("memo grows beyond " + MAX_MEMO + " entries");
        memo.put(index, peek());
    }

    private void get(long index) {
        if (!memo.containsKey(index)) throw bad("memo entry " + index + " was never stored");
        push(memo.get(index));
    }

    // ---- containers ----

    private PList list(Object o) {
        if (o instanceof PList l) return l;
        throw bad("APPEND to a " + typeName(o));
    }

    private PDict dict(Object o) {
        if (o instanceof PDict d) return d;
        throw bad("SETITEM on a " + typeName(o));
    }

    /** Makes {@code child} part of {@code parent}: checks the depth bound, freezes the child. */
    private void adopt(Container parent, Object child) {
        if (parent.frozen) throw bad("a container is changed after it was put inside another one");
        if (child instanceof Container c) {
            if (c == parent) throw bad("a container contains itself");
            c.frozen = true;
            if (c.depth + 1 > MAX_DEPTH) throw bad("values nest deeper than " + MAX_DEPTH + " levels");
            parent.depth = Math.max(parent.depth, c.depth + 1);
        }
    }

    private void append(PList l, Object o) {
        adopt(l, o);
        l.items.add(o);
    }

    private void setItems(PDict d, List<Object> kv) {
        if (kv.size() % 2 != 0) throw bad("odd number of items for a dict");
        for (int i = 0; i < kv.size(); i += 2) {
            Object k = kv.get(i), v = kv.get(i + 1);
            if (!(k == null || k instanceof String || k instanceof Long || k instanceof BigInteger
                    || k instanceof Double || k instanceof Boolean))
                throw bad("dict key of type " + typeName(k) + " (only strings and numbers are allowed)");
            adopt(d, v);
            d.items.put(k, v);
        }
    }

    private PTuple tuple(List<Object> items) {
        PTuple t = new PTuple(new ArrayList<>(items));
        for (Object o : items) adopt(t, o);
        t.frozen = true;
        return t;
    }

    static String typeName(Object o) {
        if (o == null) return "None";
        if (o instanceof PList) return "list";
        if (o instanceof PDict) return "dict";
        if (o instanceof PTuple) return "tuple";
        if (o instanceof TensorRef) return "tensor";
        if (o instanceof Global g) return g.module + "." + g.name;
        if (o instanceof byte[]) return "bytes";
        return switch (o.getClass().getSimpleName()) {
            case "Long", "BigInteger" -> "int";
            case "Double" -> "float";
            case "Boolean" -> "bool";
            case "String" -> "str";
            default -> o.getClass().getSimpleName();
        };
    }

    // ---- globals, calls and tensors ----

    private Global global(String module, String name) {
        Global g = Global.find(module, name);
        if (g == null) throw refuse(module, name);
        return g;
    }

    private Object reduce(Object f, Object argsObj) {
        if (!(f instanceof Global g)) throw bad("REDUCE calls a " + typeName(f) + ", not a function");
        if (!(argsObj instanceof PTuple t)) throw bad("REDUCE arguments are a " + typeName(argsObj) + ", not a tuple");
        List<Object> a = t.items;
        return switch (g) {
            case ORDERED_DICT -> {
                if (!a.isEmpty()) throw bad("OrderedDict called with arguments");
                yield new PDict();
            }
            case CODECS_ENCODE -> {
                if (a.size() != 2 || !(a.get(0) instanceof String s) || !("latin1".equals(a.get(1)) || "latin-1".equals(a.get(1))))
                    throw bad("_codecs.encode is allowed only as encode(str, 'latin1')");
                byte[] out = new byte[s.length()];
                for (int i = 0; i < out.length; i++) {
                    if (s.charAt(i) > 0xff) throw bad("_codecs.encode of a non-latin1 string");
                    out[i] = (byte) s.charAt(i);
                }
                yield out;
            }
            case REBUILD_TENSOR, REBUILD_TENSOR_V2 -> {
                int min = g == Global.REBUILD_TENSOR ? 4 : 6;
                if (a.size() < min || a.size() > min + 1) throw bad(g.name + " called with " + a.size() + " arguments");
                if (!(a.get(0) instanceof Storage s)) throw bad(g.name + " needs a storage, got a " + typeName(a.get(0)));
                yield view(s, a.get(1), a.get(2), a.get(3));
            }
            case REBUILD_PARAMETER, REBUILD_PARAMETER_WITH_STATE -> {
                if (a.size() != (g == Global.REBUILD_PARAMETER ? 3 : 4) || !(a.get(0) instanceof TensorRef tr))
                    throw bad(g.name + " does not wrap a tensor");
                yield tr;
            }
            case REBUILD_FROM_TYPE_V2 -> {
                // (func, new_type, args, state): only a tensor rebuild turned into a Tensor or Parameter
                if (a.size() != 4 || !(a.get(0) instanceof Global fn) || !(a.get(1) instanceof Global type))
                    throw bad("_rebuild_from_type_v2 with unexpected arguments");
                if (fn != Global.REBUILD_TENSOR_V2 && fn != Global.REBUILD_TENSOR)
                    throw bad("_rebuild_from_type_v2 wraps " + typeName(fn) + ", not a tensor rebuild");
                if (type != Global.TENSOR_TYPE && type != Global.PARAMETER_TYPE)
                    throw bad("_rebuild_from_type_v2 makes a " + typeName(type));
                Object r = reduce(fn, a.get(2));
                if (!(r instanceof TensorRef)) throw bad("_rebuild_from_type_v2 does not wrap a tensor");
                yield r;
            }
            default -> throw bad(g.module + "." + g.name + " cannot be called");
        };
    }

    /** BUILD sets attributes: allowed only as torch uses it, e.g. an OrderedDict's _metadata, which we ignore. */
    private void build(Object state, Object target) {
        if (!(target instanceof PDict || target instanceof TensorRef))
            throw bad("BUILD on a " + typeName(target));
        if (!(state == null || state instanceof PDict || state instanceof PTuple))
            throw bad("BUILD with a " + typeName(state) + " state");
    }

    private Storage persistentLoad(Object pid) {
        if (!(pid instanceof PTuple t) || t.items.size() != 5 || !"storage".equals(t.items.get(0)))
            throw bad("persistent id is not ('storage', type, key, location, numel)");
        List<Object> a = t.items;
        if (!(a.get(1) instanceof Global g) || g.storageDtype == null)
            throw bad("persistent id names " + typeName(a.get(1)) + ", not a storage type");
        if (!(a.get(2) instanceof String key) || key.isEmpty() || key.contains("/") || key.contains("\\") || key.contains(".."))
            throw bad("bad storage key " + Zips.oneLine(String.valueOf(a.get(2)), 40));
        if (!(a.get(3) instanceof String)) throw bad("storage location is not a string");
        if (!(a.get(4) instanceof Long numel) || numel < 0 || numel > Long.MAX_VALUE / 8)
            throw bad("bad storage size " + Zips.oneLine(String.valueOf(a.get(4)), 40));
        Storage s = new Storage(g.storageDtype, key, numel);
        Storage seen = storages.putIfAbsent(key, s);
        if (seen != null && !seen.equals(s))
            throw bad("storage " + key + " is declared twice with different types or sizes");
        return seen != null ? seen : s;
    }

    private TensorRef view(Storage s, Object offset, Object size, Object stride) {
        long off = nonNegativeLong(offset, "storage offset");
        long[] sz = longs(size, "size"), st = longs(stride, "stride");
        if (sz.length != st.length) throw bad("tensor size and stride have different lengths");
        return new TensorRef(s, off, sz, st);
    }

    private long nonNegativeLong(Object o, String what) {
        if (o instanceof Long l && l >= 0) return l;
        throw bad("tensor " + what + " is " + Zips.oneLine(String.valueOf(o), 40));
    }

    private long[] longs(Object o, String what) {
        if (!(o instanceof PTuple t) || t.items.size() > 64) throw bad("tensor " + what + " is not a tuple of ints");
        long[] out = new long[t.items.size()];
        for (int i = 0; i < out.length; i++) out[i] = nonNegativeLong(t.items.get(i), what);
        return out;
    }
}
