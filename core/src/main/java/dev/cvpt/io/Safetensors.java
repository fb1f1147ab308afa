package dev.cvpt.io;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Hugging Face safetensors files: u64 little-endian header length, a JSON header, then the raw
 * tensor bytes. Every claim of the header is checked against the file before anything is allocated.
 */
public final class Safetensors {
    /** The header limit of the reference implementation. */
    static final long MAX_HEADER = 100_000_000;
    private static final String METADATA = "__metadata__";
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private Safetensors() {}

    public record SafetensorsFile(Map<String, HostTensor> tensors, Map<String, String> metadata) {}

    /** Where one tensor lies in the data region (offsets relative to its start). */
    private record Entry(String name, DType dtype, long[] shape, long begin, long end) {}

    public static SafetensorsFile read(Path file) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) throw new CheckpointException(file, null, "not a safetensors file: only " + size + " bytes");
            long headerLen = readFully(ch, file, null, 0, 8).getLong();
            if (headerLen >= 0 && headerLen < 2)
                throw new CheckpointException(file, null, "safetensors header length " + headerLen + " is too small for a JSON object");
            if (headerLen < 0 || headerLen > size - 8)
                throw new CheckpointException(file, null, "safetensors header claims " + Long.toUnsignedString(headerLen)
                        + " bytes but the file has only " + (size - 8) + " after the length (truncated or not a safetensors file)");
            if (headerLen > MAX_HEADER)
                throw new CheckpointException(file, null, "safetensors header of " + headerLen + " bytes exceeds the limit of " + MAX_HEADER);
            byte[] headerBytes = readFully(ch, file, null, 8, (int) headerLen).array();
            long dataStart = 8 + headerLen, dataLen = size - dataStart;

            Map<String, String> metadata = new LinkedHashMap<>();
            List<Entry> entries = parseHeader(headerBytes, file, dataLen, metadata);

            Map<String, HostTensor> tensors = new LinkedHashMap<>();
            for (Entry e : entries) {
                long n = e.end - e.begin;
                if (n > Zips.MAX_ENTRY_BYTES)
                    throw new CheckpointException(file, e.name, "tensor of " + n + " bytes is too large for this reader");
                tensors.put(e.name, new HostTensor(e.dtype, e.shape, readFully(ch, file, e.name, dataStart + e.begin, (int) n)));
            }
            return new SafetensorsFile(tensors, metadata);
        } catch (IOException e) {
            throw new CheckpointException(file, null, "cannot read: " + Zips.describe(e), e);
        }
    }

    private static List<Entry> parseHeader(byte[] bytes, Path file, long dataLen, Map<String, String> metadata) {
        JsonNode root;
        try {
            root = JSON.readTree(bytes);
        } catch (IOException e) {
            String m = e instanceof JsonProcessingException j ? j.getOriginalMessage() : e.getMessage();
            throw new CheckpointException(file, null, "safetensors header is not valid JSON: " + Zips.oneLine(String.valueOf(m), 200), e);
        }
        if (root == null || !root.isObject())
            throw new CheckpointException(file, null, "safetensors header must be a JSON object");
        List<Entry> entries = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> f = it.next();
            String name = f.getKey();
            JsonNode v = f.getValue();
            if (name.equals(METADATA)) {
                if (!v.isObject()) throw new CheckpointException(file, null, "__metadata__ must be a JSON object of strings");
                for (Iterator<Map.Entry<String, JsonNode>> m = v.fields(); m.hasNext(); ) {
                    Map.Entry<String, JsonNode> kv = m.next();
                    if (!kv.getValue().isTextual())
                        throw new CheckpointException(file, null, "__metadata__ value '" + Zips.oneLine(kv.getKey(), 80) + "' must be a string");
                    metadata.put(kv.getKey(), kv.getValue().textValue());
                }
                continue;
            }
            entries.add(entry(name, v, file, dataLen));
        }
        // Sorted by position, each tensor must start where the previous one ended or later.
        List<Entry> byOffset = new ArrayList<>(entries);
        byOffset.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
        for (int i = 1; i < byOffset.size(); i++) {
            Entry prev = byOffset.get(i - 1), cur = byOffset.get(i);
            if (cur.begin < prev.end)
                throw new CheckpointException(file, cur.name, "data_offsets [" + cur.begin + ", " + cur.end
                        + "] overlap tensor '" + prev.name + "' [" + prev.begin + ", " + prev.end + "]");
        }
        return entries;
    }

    private static Entry entry(String name, JsonNode v, Path file, long dataLen) {
        String shown = Zips.oneLine(name, 200);
        if (!v.isObject()) throw new CheckpointException(file, shown, "header entry must be a JSON object");
        JsonNode dt = v.get("dtype"), sh = v.get("shape"), off = v.get("data_offsets");
        if (dt == null || !dt.isTextual()) throw new CheckpointException(file, shown, "missing or non-string 'dtype'");
        DType dtype = dtypeOf(dt.textValue(), file, shown);
        if (sh == null || !sh.isArray()) throw new CheckpointException(file, shown, "missing or non-array 'shape'");
        long[] shape = new long[sh.size()];
        for (int i = 0; i < shape.length; i++) shape[i] = nonNegative(sh.get(i), file, shown, "shape");
        if (off == null || !off.isArray() || off.size() != 2)
            throw new CheckpointException(file, shown, "'data_offsets' must be [begin, end]");
        long begin = nonNegative(off.get(0), file, shown, "data_offsets"), end = nonNegative(off.get(1), file, shown, "data_offsets");
        if (begin > end || end > dataLen)
            throw new CheckpointException(file, shown, "data_offsets [" + begin + ", " + end + "] lie outside the "
                    + dataLen + "-byte data region");
        long need;
        try {
            need = Math.multiplyExact(HostTensor.numel(shape), dtype.size);
        } catch (ArithmeticException e) {
            throw new CheckpointException(file, shown, "shape " + java.util.Arrays.toString(shape) + " is too large");
        }
        if (need != end - begin)
            throw new CheckpointException(file, shown, "shape " + java.util.Arrays.toString(shape) + " of " + dtype + " needs "
                    + need + " bytes, data_offsets give " + (end - begin));
        return new Entry(name, dtype, shape, begin, end);
    }

    private static long nonNegative(JsonNode n, Path file, String name, String field) {
        if (n == null || !n.isIntegralNumber() || !n.canConvertToLong() || n.longValue() < 0)
            throw new CheckpointException(file, name, "'" + field + "' must hold non-negative integers, found "
                    + Zips.oneLine(String.valueOf(n), 60));
        return n.longValue();
    }

    static DType dtypeOf(String s, Path file, String name) {
        return switch (s) {
            case "F64" -> DType.F64;
            case "F32" -> DType.F32;
            case "F16" -> DType.F16;
            case "BF16" -> DType.BF16;
            case "I64" -> DType.I64;
            case "I32" -> DType.I32;
            case "I16" -> DType.I16;
            case "I8" -> DType.I8;
            case "U8" -> DType.U8;
            case "BOOL" -> DType.BOOL;
            default -> throw new CheckpointException(file, name, "unsupported dtype '" + Zips.oneLine(s, 40)
                    + "' (expected one of F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL)");
        };
    }

    private static ByteBuffer readFully(FileChannel ch, Path file, String name, long pos, int n) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
        while (b.hasRemaining()) {
            int r = ch.read(b, pos + b.position());
            if (r < 0) throw new CheckpointException(file, name, "file ends early (was it changed while being read?)");
        }
        return b.flip();
    }

    /** Writes tensors (in map order) and string metadata so that the reference readers load them; atomic. */
    public static void write(Path file, Map<String, HostTensor> tensors, Map<String, String> metadata) throws IOException {
        ObjectNode header = JSON.createObjectNode();
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode m = header.putObject(METADATA);
            metadata.forEach(m::put);
        }
        long offset = 0;
        for (Map.Entry<String, HostTensor> e : tensors.entrySet()) {
            if (e.getKey().equals(METADATA)) throw new IllegalArgumentException("a tensor cannot be named " + METADATA);
            HostTensor t = e.getValue();
            ObjectNode o = header.putObject(e.getKey());
            o.put("dtype", t.dtype().name());
            ArrayNode shape = o.putArray("shape");
            for (long s : t.shape()) shape.add(s);
            long n = t.data().remaining();
            o.putArray("data_offsets").add(offset).add(offset + n);
            offset += n;
        }
        byte[] json = JSON.writeValueAsString(header).getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8;
        byte[] head = new byte[8 + padded];
        ByteBuffer.wrap(head).order(ByteOrder.LITTLE_ENDIAN).putLong(padded);
        System.arraycopy(json, 0, head, 8, json.length);
        java.util.Arrays.fill(head, 8 + json.length, head.length, (byte) ' ');
        AtomicFiles.write(file, out -> {
            out.write(head);
            byte[] buf = new byte[1 << 16];
            for (HostTensor t : tensors.values()) {
                ByteBuffer d = t.data().duplicate();
                while (d.hasRemaining()) {
                    int k = Math.min(buf.length, d.remaining());
                    d.get(buf, 0, k);
                    out.write(buf, 0, k);
                }
            }
        });
    }
}
