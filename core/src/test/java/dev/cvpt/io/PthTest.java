package dev.cvpt.io;

import dev.cvpt.io.IoTestSupport.Pickle;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static dev.cvpt.io.IoTestSupport.*;
import static org.junit.jupiter.api.Assertions.*;

class PthTest {
    @TempDir Path tmp;

    /** Written by torch 1.13 (make_fixtures.py): views, offsets, Parameters, every dtype, wrapped in {'model': ...}. */
    @Test
    void readsRealTorchFilesAtProtocols2And4() {
        Map<String, HostTensor> want = Npz.read(resource("nested_expected.npz"));
        for (String f : List.of("nested.pth", "nested_p4.pth")) {
            Map<String, HostTensor> got = Pth.read(resource(f));
            assertEquals(List.copyOf(want.keySet()), List.copyOf(got.keySet()), f);
            for (String k : want.keySet()) {
                if (k.equals("bf16")) {
                    assertEquals(DType.BF16, got.get(k).dtype());
                    assertArrayEquals(want.get(k).toFloats(), got.get(k).toFloats(), k);
                } else {
                    assertSameTensor(want.get(k), got.get(k), f + " " + k);
                }
            }
        }
    }

    @Test
    void handMadeViewsAndByteOrder() throws IOException {
        // a 2x3 view at offset 1 with strides (1, 2) of an 8-float storage: elements 1,3,5 / 2,4,6
        byte[] pkl = Pickle.oneTensor("module.w", 8, 1, shape(2, 3), shape(1, 2));
        Path p = torchZip(tmp.resolve("view.pth"), pkl, Map.of("0", floatsLE(0, 1, 2, 3, 4, 5, 6, 7)), "little");
        HostTensor w = Pth.read(p).get("w");
        assertArrayEquals(new long[] {2, 3}, w.shape());
        assertArrayEquals(new float[] {1, 3, 5, 2, 4, 6}, w.toFloats());

        ByteBuffer be = ByteBuffer.allocate(32).order(ByteOrder.BIG_ENDIAN);
        for (int i = 0; i < 8; i++) be.putFloat(i);
        Path big = torchZip(tmp.resolve("big.pth"), pkl, Map.of("0", be.array()), "big");
        assertArrayEquals(new float[] {1, 3, 5, 2, 4, 6}, Pth.read(big).get("w").toFloats());

        // _rebuild_from_type_v2(_rebuild_tensor_v2, torch.nn.parameter.Parameter, (...), {}) as newer torch writes subclasses
        Pickle q = new Pickle().op('}').str("p").global("torch._tensor", "_rebuild_from_type_v2").mark()
                .global("torch._utils", "_rebuild_tensor_v2").global("torch.nn.parameter", "Parameter").mark();
        q.mark().str("storage").global("torch", "FloatStorage").str("0").str("cpu").integer(8).op('t', 'Q')
                .integer(0).ints(8).ints(1).op(0x89).global("collections", "OrderedDict").op(')', 'R').op('t');
        q.op('}').op('t', 'R').op('s');
        Path sub = torchZip(tmp.resolve("sub.pth"), q.stop(), Map.of("0", floatsLE(0, 1, 2, 3, 4, 5, 6, 7)), null);
        assertEquals(8, Pth.read(sub).get("p").numel());
    }

    @Test
    void badViewsAndStoragesAreNamed() throws IOException {
        byte[] eight = floatsLE(0, 1, 2, 3, 4, 5, 6, 7);
        Path past = torchZip(tmp.resolve("past.pth"), Pickle.oneTensor("w", 8, 5, shape(2, 3), shape(3, 1)), Map.of("0", eight), null);
        assertRefused(past, () -> Pth.read(past), "tensor 'w'", "does not fit in its storage");
        Path broadcast = torchZip(tmp.resolve("bcast.pth"), Pickle.oneTensor("w", 8, 0, shape(1 << 30, 1 << 20), shape(0, 0)), Map.of("0", eight), null);
        assertRefused(broadcast, () -> Pth.read(broadcast), "tensor 'w'", "does not fit");
        Path huge = torchZip(tmp.resolve("huge.pth"), Pickle.oneTensor("w", 8, 0, shape(1L << 40, 1L << 40), shape(1, 1)), Map.of("0", eight), null);
        assertRefused(huge, () -> Pth.read(huge), "tensor 'w'", "too large");
        Path missing = torchZip(tmp.resolve("missing.pth"), Pickle.oneTensor("w", 8, 0, shape(8), shape(1)), Map.of(), null);
        assertRefused(missing, () -> Pth.read(missing), "tensor 'w'", "data/0 is missing");
        Path size = torchZip(tmp.resolve("size.pth"), Pickle.oneTensor("w", 9, 0, shape(8), shape(1)), Map.of("0", eight), null);
        assertRefused(size, () -> Pth.read(size), "tensor 'w'", "need 36");
        Path rank = torchZip(tmp.resolve("rank.pth"), Pickle.oneTensor("w", 8, 0, shape(8), shape(1, 1)), Map.of("0", eight), null);
        assertRefused(rank, () -> Pth.read(rank), "size and stride");
        Path negative = torchZip(tmp.resolve("neg.pth"), Pickle.oneTensor("w", 8, 0, shape(-8), shape(1)), Map.of("0", eight), null);
        assertRefused(negative, () -> Pth.read(negative), "size");
        Path order = torchZip(tmp.resolve("order.pth"), Pickle.oneTensor("w", 8, 0, shape(8), shape(1)), Map.of("0", eight), "middle");
        assertRefused(order, () -> Pth.read(order), "byteorder");
    }

    @Test
    void structureAroundTheTensors() throws IOException {
        byte[] eight = floatsLE(0, 1, 2, 3, 4, 5, 6, 7);
        // {'state_dict': {'module.a': t}, 'epoch': 5, 'b': t}: the wrapped dict wins, the prefix goes
        Pickle p = new Pickle().op('}').mark().str("epoch").integer(5).str("state_dict").op('}').str("module.a")
                .tensor("FloatStorage", "0", 8, 0, shape(8), shape(1)).op('s').str("b")
                .tensor("FloatStorage", "0", 8, 0, shape(2), shape(1)).op('u');
        Path f = torchZip(tmp.resolve("wrapped.pth"), p.stop(), Map.of("0", eight), null);
        assertEquals(List.of("a"), List.copyOf(Pth.read(f).keySet()));

        Path list = torchZip(tmp.resolve("list.pth"), new Pickle().op(']').stop(), Map.of(), null);
        assertRefused(list, () -> Pth.read(list), "expected a dict of tensors", "list");

        Path key = torchZip(tmp.resolve("key.pth"), new Pickle().op('}', ']', 'K', 1, 's').stop(), Map.of(), null);
        assertRefused(key, () -> Pth.read(key), "dict key");

        Path dup = torchZip(tmp.resolve("dup.pth"), new Pickle().op('}').mark().str("module.a")
                .tensor("FloatStorage", "0", 8, 0, shape(8), shape(1)).str("a")
                .tensor("FloatStorage", "0", 8, 0, shape(8), shape(1)).op('u').stop(), Map.of("0", eight), null);
        assertRefused(dup, () -> Pth.read(dup), "tensor 'a'", "twice");

        Path noPkl = tmp.resolve("nopkl.pth");
        writeZip(noPkl, Map.of("archive/data/0", eight));
        assertRefused(noPkl, () -> Pth.read(noPkl), "no data.pkl");

        Path legacy = resource("legacy.pth");
        assertRefused(legacy, () -> Pth.read(legacy), "legacy torch.save format is not supported; re-save with torch >= 1.6");
        Path text = Files.writeString(tmp.resolve("text.pth"), "not torch");
        assertRefused(text, () -> Pth.read(text), "not a torch.save zip file");
    }

    // ---- hostile pickles ----

    private Path hostile(String name, byte[] pickle) throws IOException {
        return torchZip(tmp.resolve(name), pickle, Map.of(), null);
    }

    @Test
    void picklesThatWouldRunCommandsAreRefusedAndNothingRuns() throws IOException {
        Path marker = tmp.resolve("pwned");
        String cmd = "touch " + marker;
        for (String[] g : List.of(new String[] {"posix", "system"}, new String[] {"os", "system"}, new String[] {"nt", "system"},
                new String[] {"subprocess", "Popen"}, new String[] {"builtins", "eval"}, new String[] {"builtins", "exec"},
                new String[] {"__builtin__", "getattr"}, new String[] {"__main__", "Evil"}, new String[] {"torch", "load"},
                new String[] {"numpy.core.multiarray", "_reconstruct"}, new String[] {"torch.serialization", "_load"},
                new String[] {"collections", "defaultdict"}, new String[] {"torch._utils", "_rebuild_device_tensor_from_numpy"})) {
            String name = g[0] + "." + g[1];
            // GLOBAL + REDUCE, as pickle writes os.system('...')
            Path a = hostile(g[1] + "-global.pth", new Pickle().global(g[0], g[1]).str(cmd).op(0x85, 'R').stop());
            assertRefused(a, () -> Pth.read(a), "refusing to load: the pickle names " + name
                    + " (only tensors, dicts and plain values are allowed)");
            // protocol 4: STACK_GLOBAL from two strings
            Path b = hostile(g[1] + "-stack.pth", new Pickle().op(0x8c, g[0].length()).raw(g[0].getBytes())
                    .op(0x8c, g[1].length()).raw(g[1].getBytes()).op(0x93).str(cmd).op(0x85, 'R').stop());
            assertRefused(b, () -> Pth.read(b), "the pickle names " + name);
            // INST, which names and calls in one opcode
            Path c = hostile(g[1] + "-inst.pth", new Pickle().mark().str(cmd).op('i').raw((g[0] + "\n" + g[1] + "\n").getBytes()).stop());
            assertRefused(c, () -> Pth.read(c), "the pickle names " + name);
            // hidden inside a tensor's persistent id, in place of the storage type
            Path d = hostile(g[1] + "-pid.pth", new Pickle().op('}').str("w").global("torch._utils", "_rebuild_tensor_v2").mark()
                    .mark().str("storage").global(g[0], g[1]).str("0").str("cpu").integer(1).op('t', 'Q').stop());
            assertRefused(d, () -> Pth.read(d), "the pickle names " + name);
            assertRefused(d, () -> Checkpoint.load(d), "the pickle names " + name);
        }
        assertFalse(Files.exists(marker), "a command ran");
        // a name with control characters still gives a one-line message
        Path e = hostile("newline.pth", new Pickle().op(0x8c, 3).raw("a\rb".getBytes()).op(0x8c, 1).raw("c".getBytes()).op(0x93).stop());
        assertRefused(e, () -> Pth.read(e), "the pickle names a?b.c");
    }

    @Test
    void allowedNamesCannotBeAbused() throws IOException {
        Path storageCall = hostile("call.pth", new Pickle().global("torch", "FloatStorage").integer(1 << 30).op(0x85, 'R').stop());
        assertRefused(storageCall, () -> Pth.read(storageCall), "cannot be called");
        Path newobj = hostile("newobj.pth", new Pickle().global("collections", "OrderedDict").op(')', 0x81).stop());
        assertRefused(newobj, () -> Pth.read(newobj), "unsupported pickle opcode 0x81");
        Path obj = hostile("obj.pth", new Pickle().mark().global("collections", "OrderedDict").op('o').stop());
        assertRefused(obj, () -> Pth.read(obj), "unsupported pickle opcode");
        Path build = hostile("build.pth", new Pickle().global("collections", "OrderedDict").op('}', 'b').stop());
        assertRefused(build, () -> Pth.read(build), "BUILD");
        Path wrap = hostile("wrap.pth", new Pickle().global("torch._tensor", "_rebuild_from_type_v2").mark()
                .global("collections", "OrderedDict").global("torch", "Tensor").op(')', '}', 't', 'R').stop());
        assertRefused(wrap, () -> Pth.read(wrap), "not a tensor rebuild");
        Path odArgs = hostile("odargs.pth", new Pickle().global("collections", "OrderedDict").op(']').op(0x85, 'R').stop());
        assertRefused(odArgs, () -> Pth.read(odArgs), "OrderedDict");
        Path codecs = hostile("codecs.pth", new Pickle().global("_codecs", "encode").str("x").str("rot13").op(0x86, 'R').stop());
        assertRefused(codecs, () -> Pth.read(codecs), "latin1");
        Path ext = hostile("ext.pth", new Pickle().op(0x82, 1).stop());
        assertRefused(ext, () -> Pth.read(ext), "unsupported pickle opcode 0x82");
    }

    @Test
    @Timeout(60)
    void endlessNestingIsBounded() throws IOException {
        int n = 100_000;
        Pickle lists = new Pickle();            // ] ] ] ... a a a
        for (int i = 0; i < n; i++) lists.op(']');
        for (int i = 1; i < n; i++) lists.op('a');
        Path a = hostile("lists.pth", lists.stop());
        assertRefused(a, () -> Pth.read(a), "nest deeper than");

        Pickle marks = new Pickle();            // ( ( ( ... l l l
        for (int i = 0; i < n; i++) marks.op('(');
        for (int i = 0; i < n; i++) marks.op('l');
        Path b = hostile("marks.pth", marks.stop());
        assertRefused(b, () -> Pth.read(b), "nest deeper than");

        Pickle tuples = new Pickle().op(')');   // ((((),),),) with a constant stack
        for (int i = 0; i < n; i++) tuples.op(0x85);
        Path c = hostile("tuples.pth", tuples.stop());
        assertRefused(c, () -> Pth.read(c), "nest deeper than");

        Pickle dicts = new Pickle().op('}', 'q', 0); // d = {}; repeat: e = {}; d['k'] = e; d = e  (memo keeps the stack flat)
        for (int i = 0; i < n; i++) dicts.op('h', 0).str("k").op('}', 'q', 0, 's', '0');
        Path d = hostile("dicts.pth", dicts.stop());
        assertRefused(d, () -> Pth.read(d), "after it was put inside");

        Pickle memoChain = new Pickle().op(']', 'q', 0); // outer list first, inner lists appended and then filled
        for (int i = 0; i < n; i++) memoChain.op('h', 0, ']', 'q', 0, 'a', '0');
        Path e = hostile("chain.pth", memoChain.stop());
        assertRefused(e, () -> Pth.read(e), "after it was put inside");

        Path self = hostile("self.pth", new Pickle().op(']', 'q', 0, 'h', 0, 'a').stop());
        assertRefused(self, () -> Pth.read(self), "contains itself");
    }

    @Test
    @Timeout(60)
    void lyingLengthsAndHugeStacksAreBounded() throws IOException {
        Path str = hostile("str.pth", new Pickle().op('X', 0xff, 0xff, 0xff, 0x7f).raw(new byte[10]).stop());
        assertRefused(str, () -> Pth.read(str), "runs past the end");
        Path str8 = hostile("str8.pth", new Pickle().op(0x8d, 0, 0, 0, 0, 0, 0, 0, 0x40).stop());
        assertRefused(str8, () -> Pth.read(str8), "runs past the end");
        Path long4 = hostile("long4.pth", new Pickle().op(0x8b, 0xff, 0xff, 0xff, 0xff).stop());
        assertRefused(long4, () -> Pth.read(long4), "runs past the end");
        Pickle nones = new Pickle();
        for (int i = 0; i < (1 << 20) + 10; i++) nones.op('N');
        Path stack = hostile("stack.pth", nones.stop());
        assertRefused(stack, () -> Pth.read(stack), "stack grows beyond");
        Pickle memo = new Pickle().op('N');
        for (int i = 0; i < (1 << 20) + 10; i++) memo.op(0x94);
        Path m = hostile("memo.pth", memo.stop());
        assertRefused(m, () -> Pth.read(m), "memo grows beyond");
        Path get = hostile("get.pth", new Pickle().op('h', 7).stop());
        assertRefused(get, () -> Pth.read(get), "never stored");
        Path noStop = hostile("nostop.pth", java.util.Arrays.copyOf(new Pickle().op('}').stop(), 3));
        assertRefused(noStop, () -> Pth.read(noStop), "truncated");
        Path underflow = hostile("underflow.pth", new Pickle().op('a').stop());
        assertRefused(underflow, () -> Pth.read(underflow), "underflow");
    }
}
