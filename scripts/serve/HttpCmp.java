import java.net.*;
import java.net.http.*;
import java.nio.ByteBuffer;
import java.util.*;

/** Start-up and loopback latency of a trivial handler: JDK HttpServer (nodelay) vs Jetty 12 core. */
public class HttpCmp {
    static final byte[] BODY = "{\"ok\":true}".getBytes();

    public static void main(String[] a) throws Exception {
        String which = a[0];
        long t0 = System.nanoTime();
        int port;
        AutoCloseable stop;
        if (which.equals("jdk")) {
            System.setProperty("sun.net.httpserver.nodelay", "true");
            var s = com.sun.net.httpserver.HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 256);
            s.setExecutor(java.util.concurrent.Executors.newFixedThreadPool(16));
            s.createContext("/", ex -> { ex.getRequestBody().readAllBytes(); ex.sendResponseHeaders(200, BODY.length); ex.getResponseBody().write(BODY); ex.close(); });
            s.start();
            port = s.getAddress().getPort();
            stop = () -> s.stop(0);
        } else {
            var s = new org.eclipse.jetty.server.Server(new org.eclipse.jetty.util.thread.QueuedThreadPool(16));
            var c = new org.eclipse.jetty.server.ServerConnector(s);
            c.setHost("127.0.0.1"); c.setPort(0);
            s.addConnector(c);
            s.setHandler(new org.eclipse.jetty.server.Handler.Abstract() {
                @Override public boolean handle(org.eclipse.jetty.server.Request req, org.eclipse.jetty.server.Response res, org.eclipse.jetty.util.Callback cb) throws Exception {
                    org.eclipse.jetty.io.Content.Source.consumeAll(req);
                    res.setStatus(200);
                    res.write(true, ByteBuffer.wrap(BODY), cb);
                    return true;
                }
            });
            s.start();
            port = c.getLocalPort();
            stop = s::stop;
        }
        HttpClient h = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        URI u = URI.create("http://127.0.0.1:" + port + "/predict/x");
        byte[] img = new byte[2000];
        h.send(HttpRequest.newBuilder(u).POST(HttpRequest.BodyPublishers.ofByteArray(img)).build(), HttpResponse.BodyHandlers.ofByteArray());
        double startupMs = (System.nanoTime() - t0) / 1e6;
        for (int i = 0; i < 3000; i++) h.send(HttpRequest.newBuilder(u).POST(HttpRequest.BodyPublishers.ofByteArray(img)).build(), HttpResponse.BodyHandlers.ofByteArray());
        int n = 5000;
        double[] lat = new double[n];
        for (int i = 0; i < n; i++) {
            long s = System.nanoTime();
            h.send(HttpRequest.newBuilder(u).POST(HttpRequest.BodyPublishers.ofByteArray(img)).build(), HttpResponse.BodyHandlers.ofByteArray());
            lat[i] = (System.nanoTime() - s) / 1e3;
        }
        Arrays.sort(lat);
        System.out.printf(Locale.ROOT, "%s startup_to_first_response_ms=%.0f p50_us=%.0f p99_us=%.0f port=%d%n", which, startupMs, lat[n / 2], lat[n * 99 / 100], port);
        if (a.length > 1) { System.out.println("PORT " + port); Thread.sleep(Long.parseLong(a[1]) * 1000); }
        stop.close();
        System.exit(0);
    }
}
