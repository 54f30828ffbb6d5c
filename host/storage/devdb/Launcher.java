// Embedded development database for Tidings: mongo-java-server on 127.0.0.1.
//
// Run as a single source file (no compile step):
//     java -cp 'JARS/*' Launcher.java PORT [H2FILE]
// With no H2FILE the data lives in memory; with one it is kept in that H2 MVStore file.
// Prints "ready 127.0.0.1:PORT" once listening. Stops cleanly on SIGTERM (a shutdown hook closes
// the backend, so H2 data is flushed) and when its stdin closes, so a parent that dies even by
// kill -9 leaves no orphan behind.

import de.bwaldvogel.mongo.MongoBackend;
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.backend.h2.H2Backend;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import java.io.IOException;
import java.io.InputStream;
import java.util.List;

public class Launcher {
    private static final String HOST = "127.0.0.1";

    /** MongoDB 6.0: the built-in enum stops at wire version 8, which PyMongo 4.20 refuses. */
    static final class Mongo60 implements MongoVersion {
        @Override
        public List<Integer> getVersionArray() {
            return List.of(6, 0, 0);
        }

        @Override
        public int getWireVersion() {
            return 17;
        }
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 1 || args.length > 2) {
            System.err.println("usage: java -cp 'JARS/*' Launcher.java PORT [H2FILE]");
            System.exit(2);
        }
        int port = Integer.parseInt(args[0]);
        MongoBackend backend = args.length == 2 ? new H2Backend(args[1]) : new MemoryBackend();
        backend.version(new Mongo60());

        MongoServer server = new MongoServer(backend);
        try {
            server.bind(HOST, port);
        } catch (Exception e) {
            // Netty rethrows the checked BindException undeclared, hence Exception. Exit rather than
            // return: Netty's non-daemon threads would keep a server that never bound alive.
            e.printStackTrace();
            server.shutdownNow();
            System.exit(1);
        }

        // MongoServer.shutdown() closes the backend, which commits and closes the H2 store.
        Thread shutdown = new Thread(server::shutdown, "devdb-shutdown");
        Runtime.getRuntime().addShutdownHook(shutdown);

        // System.exit runs the shutdown hook above, so EOF on stdin also flushes H2 data.
        Thread stdinWatch = new Thread(() -> {
            InputStream in = System.in;
            byte[] buffer = new byte[256];
            try {
                while (in.read(buffer) != -1) {
                    // Input is ignored: the pipe only tells us the parent is still alive.
                }
            } catch (IOException e) {
                // A broken pipe means the same as EOF: the parent is gone.
            }
            System.exit(0);
        }, "devdb-stdin-watch");
        stdinWatch.setDaemon(true);
        stdinWatch.start();

        System.out.println("ready " + HOST + ":" + port);
        System.out.flush();

        // Netty's event-loop threads are non-daemon and keep the JVM alive until shutdown.
        Thread.currentThread().join();
    }
}
