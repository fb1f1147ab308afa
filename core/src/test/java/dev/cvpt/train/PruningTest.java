package dev.cvpt.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cvpt.TestData;
import dev.cvpt.io.HostTensor;
import dev.cvpt.io.Npz;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** E2VPT's pruning selections from the golden case's stored mask gradients equal the official ones (pruning_from_grad). */
class PruningTest {
    @Test
    void countsAsOfficial() {
        assertArrayEquals(new int[]{1, 3, 4, 6, 8, 9, 11, 12, 12}, Pruning.counts(16, Pruning.MIN_PIECES));
        assertArrayEquals(new int[]{1, 2, 3, 4, 5, 6, 7, 8, 9}, Pruning.counts(10, Pruning.MIN_TOKENS));
        assertArrayEquals(new int[]{0, 1, 1, 2, 2, 3, 3, 4, 4}, Pruning.counts(5, Pruning.MIN_TOKENS));
        assertArrayEquals(new int[9], Pruning.counts(1, Pruning.MIN_TOKENS));   // P = 1 (flowers102 preset): nine counts of 0, nothing pruned
    }

    @Test
    void selectionsFromGoldenGradients() throws IOException {
        Path dir = TestData.shared().resolve("golden/methods/e2vpt");
        JsonNode want = new ObjectMapper().readTree(Files.readString(dir.resolve("e2vpt_trainable_mask_f64.json"))).get("pruning_from_grad");
        Map<String, HostTensor> g = Npz.read(dir.resolve("e2vpt_trainable_mask_f64.npz"));
        float[] tok = g.get("grad/prompt_soft_tokens_mask_cls_token").toFloats(), pc = g.get("grad/prompt_soft_tokens_pieces_mask_cls_token").toFloats();
        int p = tok.length, r = pc.length / p;
        double[] st = new double[p];
        double[][] sp = new double[p][r];
        for (int i = 0; i < p; i++) {
            st[i] = tok[i];
            for (int j = 0; j < r; j++) sp[i][j] = pc[i * r + j];
        }
        int[] tc = Pruning.counts(p, Pruning.MIN_TOKENS), pcs = Pruning.counts(r, Pruning.MIN_PIECES);
        assertArrayEquals(ints(want.get("token_counts")), tc);
        assertArrayEquals(ints(want.get("piece_counts")), pcs);
        var tokens = Pruning.selectTokens(st, tc);
        want.get("token_mask_files").fields().forEachRemaining(e ->
                assertEquals(list(e.getValue()), tokens.get(Integer.parseInt(e.getKey())), "token count " + e.getKey()));
        var pieces = Pruning.selectPieces(sp, pcs);
        want.get("piece_mask_files").fields().forEachRemaining(e -> e.getValue().fields().forEachRemaining(t ->
                assertEquals(list(t.getValue()), pieces.get(Integer.parseInt(e.getKey())).get(Integer.parseInt(t.getKey())),
                        "piece count " + e.getKey() + " token " + t.getKey())));
        assertEquals("0,3,9", Pruning.tokensOption(tokens.get(3)));
    }

    private static int[] ints(JsonNode a) {
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) out[i] = a.get(i).asInt();
        return out;
    }

    private static List<Integer> list(JsonNode a) {
        List<Integer> out = new ArrayList<>();
        a.forEach(x -> out.add(x.asInt()));
        return out;
    }
}
