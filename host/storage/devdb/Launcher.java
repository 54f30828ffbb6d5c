// Embedded development database for Tidings: mongo-java-server on 127.0.0.1.
//
// Run as a single source file (no compile step):
//     java -cp 'JARS/*' Launcher.java PORT [H2FILE]
// With no H2FILE the data lives in memory; with one it is kept in that H2 MVStore file.
// Prints "ready 127.0.0.1:PORT" once listening. Stops cleanly on SIGTERM (a shutdown hook closes
// the backend, so H2 data is flushed) and when its stdin closes, so a parent that dies even by
// kill -9 leaves no orphan behind.

import de.bwaldvogel.mongo.MongoBackend;
import de.bwaldvogel.mongo.MongoCollection;
import de.bwaldvogel.mongo.MongoDatabase;
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.backend.ArrayFilters;
import de.bwaldvogel.mongo.backend.CollectionOptions;
import de.bwaldvogel.mongo.backend.Cursor;
import de.bwaldvogel.mongo.backend.CursorRegistry;
import de.bwaldvogel.mongo.backend.DocumentComparator;
import de.bwaldvogel.mongo.backend.EmptyIndex;
import de.bwaldvogel.mongo.backend.InMemoryCursor;
import de.bwaldvogel.mongo.backend.Index;
import de.bwaldvogel.mongo.backend.IndexKey;
import de.bwaldvogel.mongo.backend.KeyValue;
import de.bwaldvogel.mongo.backend.NumericUtils;
import de.bwaldvogel.mongo.backend.QueryResult;
import de.bwaldvogel.mongo.backend.Utils;
import de.bwaldvogel.mongo.backend.h2.H2Backend;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import de.bwaldvogel.mongo.backend.memory.MemoryCollection;
import de.bwaldvogel.mongo.backend.memory.MemoryDatabase;
import de.bwaldvogel.mongo.backend.memory.index.MemoryUniqueIndex;
import de.bwaldvogel.mongo.bson.Document;
import de.bwaldvogel.mongo.bson.ObjectId;
import de.bwaldvogel.mongo.exception.DuplicateKeyError;
import de.bwaldvogel.mongo.oplog.Oplog;
import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import java.util.stream.Stream;

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

    /**
     * The memory backend with the costs of Tidings' hot path cut, each found with JFR under the
     * benchmarks (README, "The development database" and Performance) and each falling back to the
     * stock code for anything it does not cover: {@link HotPathCollection} (lookups through a unique
     * index not matched again, updates by {@code _id} in place, plain {@code $in} matches, one-field
     * sorts, projection per batch, no data-size bookkeeping) and {@link HotPathUniqueIndex} (plain
     * keys, {@code $in} lists of strings). The H2 backend (a data file) is left as it is.
     */
    static final class HotPathBackend extends MemoryBackend {
        @Override
        public MemoryDatabase openOrCreateDatabase(String databaseName) {
            return new HotPathDatabase(databaseName, getCursorRegistry());
        }
    }

    static final class HotPathDatabase extends MemoryDatabase {
        HotPathDatabase(String databaseName, CursorRegistry cursorRegistry) {
            super(databaseName, cursorRegistry);
        }

        @Override
        protected MemoryCollection openOrCreateCollection(String collectionName, CollectionOptions options) {
            return new HotPathCollection(this, collectionName, options, cursorRegistry);
        }

        @Override
        protected Index<Integer> openOrCreateUniqueIndex(
                String collectionName, String indexName, List<IndexKey> keys, boolean sparse) {
            return new HotPathUniqueIndex(indexName, keys, sparse);
        }
    }

    /**
     * A unique index on one top-level field that keys a string or ObjectId value by itself: the stock
     * index works every key out through path splitting, array and number handling and two maps, twice
     * a document (the check, then the add): most of an insert's time (JFR under bench.fanout).
     */
    static final class HotPathUniqueIndex extends MemoryUniqueIndex {
        private final String field;

        HotPathUniqueIndex(String name, List<IndexKey> keys, boolean sparse) {
            super(name, keys, sparse);
            String only = keys.size() == 1 ? keys.get(0).getKey() : null;
            this.field = only != null && !only.contains(".") ? only : null;
        }

        /** The key of a document whose value for the field is plain, else null (the stock way). */
        private KeyValue plainKey(Document document) {
            if (field == null) {
                return null;
            }
            Object value = document.get(field);
            return HotPathCollection.isPlain(value) ? new KeyValue(value) : null;
        }

        @Override
        public Set<KeyValue> getKeyValues(Document document) {
            KeyValue key = plainKey(document);
            return key != null ? Set.of(key) : super.getKeyValues(document);
        }

        @Override
        public synchronized Iterable<Integer> getPositions(Document query) {
            // an $in of strings (what the hot path asks: ids, opt-outs, suppressions), in the stock
            // order (by value: String.compareTo, as the stock comparator orders two strings) without
            // the stock comparator's type checks on every comparison
            Object value = field != null && query.size() == 1 ? query.get(field) : null;
            if (value instanceof Document expression && expression.size() == 1
                    && expression.get("$in") instanceof Collection<?> values
                    && values.stream().allMatch(String.class::isInstance)) {
                List<Integer> positions = new ArrayList<>();
                for (Object id : new TreeSet<>(values)) {
                    Integer position = getPosition(new KeyValue(id));
                    if (position != null) {
                        positions.add(position);
                    }
                }
                return positions;
            }
            return super.getPositions(query);
        }

        @Override
        public synchronized void checkAdd(Document document, MongoCollection<Integer> collection) {
            KeyValue key = plainKey(document);
            if (key == null) {
                super.checkAdd(document, collection);
            } else if (containsKey(key)) {
                throw new DuplicateKeyError(this, collection, getKeys(), key);
            }
        }

        @Override
        public synchronized void add(Document document, Integer position, MongoCollection<Integer> collection) {
            KeyValue key = plainKey(document);
            if (key == null) {
                super.add(document, position, collection);
                return;
            }
            if (containsKey(key)) {
                throw new DuplicateKeyError(this, collection, getKeys(), key);
            }
            if (!putKeyPosition(key, position)) {
                throw new IllegalStateException("Key " + key + " already exists. Concurrency issue?");
            }
        }
    }

    /**
     * A memory collection whose hot-path queries and updates skip the stock path's generic work: a
     * query on one field for plain values through a unique index on it is not matched again per
     * document (an {@code $in} of n ids cost n comparisons a document), an update by {@code _id} that
     * only {@code $set}s or {@code $inc}s unindexed top-level fields changes the document in place (the
     * stock path copies it twice, compares both whole and checks every index), a query for plain values
     * of one field is a set lookup a document, a sort on one field reads each string key once, a query's
     * matches are projected a batch at a time (the first batch of a 100,000-user cluster left after
     * 114 ms, now 49), and no data size is kept (every write encoded its document to
     * count bytes for collStats' {@code size}, which Tidings never reads: it reports 0 here).
     */
    static final class HotPathCollection extends MemoryCollection {
        private static final Document MATCH_ALL = new Document();

        HotPathCollection(
                MongoDatabase database, String name, CollectionOptions options, CursorRegistry cursors) {
            super(database, name, options, cursors);
        }

        @Override
        protected boolean tracksDataSize() {
            return false;
        }

        @Override
        protected QueryResult matchDocumentsFromStream(
                Stream<Document> documents, Document query, Document orderBy, int numberToSkip, int limit,
                int batchSize, Document fieldSelector) {
            String key = orderBy == null || orderBy.isEmpty() ? null : sortKey(orderBy);
            Predicate<Document> plain = plainMatch(query);
            if ((orderBy != null && !orderBy.isEmpty() && key == null) || (key == null && plain == null)) {
                return super.matchDocumentsFromStream(
                        documents, query, orderBy, numberToSkip, limit, batchSize, fieldSelector);
            }
            // the fan-out's read of a cluster: a plain $in on one field, sorted by one field (the user
            // id). The stock path matches each document through the generic matcher, sorts with two
            // map lookups a comparison and projects every match before the first batch leaves; here the
            // $in is a set lookup, the keys are read once and a batch is projected when it is sent
            Stream<Document> matched = documents.filter(
                    plain != null ? plain : document -> documentMatchesQuery(document, query));
            List<Document> found;
            if (key == null) { // unsorted: a limit stops the scan at its last match, as the stock stream does
                matched = numberToSkip > 0 ? matched.skip(numberToSkip) : matched;
                matched = limit > 0 ? matched.limit(limit) : matched;
                found = matched.collect(Collectors.toCollection(ArrayList::new));
            } else {
                found = sorted(matched, key, ((Number) orderBy.get(key)).intValue() > 0, orderBy);
                if (numberToSkip > 0) {
                    found = found.subList(Math.min(numberToSkip, found.size()), found.size());
                }
                if (limit > 0 && found.size() > limit) {
                    found = found.subList(0, limit);
                }
            }
            int first = batchSize > 0 ? Math.min(batchSize, found.size()) : found.size();
            List<Document> batch = project(found.subList(0, first), fieldSelector);
            if (first == found.size()) {
                return new QueryResult(batch);
            }
            Cursor cursor = new ProjectingCursor(
                    cursorRegistry.generateCursorId(), new ArrayList<>(found.subList(first, found.size())),
                    fieldSelector);
            cursorRegistry.add(cursor);
            return new QueryResult(batch, cursor);
        }

        /** The one top-level field of a one-field sort by a number (1 or -1), else null. */
        private static String sortKey(Document orderBy) {
            String key = orderBy.size() == 1 ? orderBy.keySet().iterator().next() : null;
            return key == null || key.startsWith("$") || key.contains(".")
                    || !(orderBy.get(key) instanceof Number) ? null : key;
        }

        /**
         * The query {@code {field: value}} or {@code {field: {$in: [values]}}} of plain values as a set
         * lookup: the field's value is one of them, or an array holding one; an array holding an array
         * goes to the stock matcher (which looks inside it too, unlike MongoDB). Null for other queries.
         */
        private Predicate<Document> plainMatch(Document query) {
            String field = plainKey(query);
            if (field == null) {
                return null;
            }
            Object value = query.get(field);
            Set<Object> values = value instanceof Document expression
                    ? new HashSet<>((Collection<?>) expression.get("$in"))
                    : Set.of(value);
            return document -> {
                Object actual = document.get(field);
                if (actual instanceof Collection<?> items) {
                    boolean nested = false;
                    for (Object item : items) {
                        if (item != null && values.contains(item)) {
                            return true;
                        }
                        nested |= item instanceof Collection;
                    }
                    return nested && documentMatchesQuery(document, query);
                }
                return actual != null && values.contains(actual);
            };
        }

        /**
         * The documents in the order of one field: by their keys read once when every key is a string
         * (String.compareTo, as the stock comparator orders two strings; stable, as the stock sort),
         * else by the stock comparator.
         */
        private static List<Document> sorted(
                Stream<Document> documents, String key, boolean ascending, Document orderBy) {
            List<Document> all = documents.collect(Collectors.toCollection(ArrayList::new));
            String[] keys = new String[all.size()];
            for (int i = 0; i < keys.length; i++) {
                if (!(all.get(i).get(key) instanceof String value)) {
                    all.sort(new DocumentComparator(orderBy));
                    return all;
                }
                keys[i] = value;
            }
            Integer[] order = new Integer[keys.length];
            for (int i = 0; i < order.length; i++) {
                order[i] = i;
            }
            Comparator<Integer> byKey = (a, b) -> keys[a].compareTo(keys[b]);
            Arrays.sort(order, ascending ? byKey : byKey.reversed());
            List<Document> result = new ArrayList<>(order.length);
            for (Integer i : order) {
                result.add(all.get(i));
            }
            return result;
        }

        /** The documents through the query's projection (the stock one), or as they are without one. */
        private List<Document> project(List<Document> documents, Document fieldSelector) {
            if (fieldSelector == null || fieldSelector.isEmpty()) {
                return documents;
            }
            synchronized (this) { // an update changes a stored document in place under this lock
                return super.matchDocumentsFromStream(
                        MATCH_ALL, documents.stream(), 0, 0, 0, null, fieldSelector).collectDocuments();
            }
        }

        /** The rest of a query's matches, each batch projected when a getMore takes it. */
        final class ProjectingCursor extends InMemoryCursor {
            private final Document fieldSelector;

            ProjectingCursor(long id, List<Document> remaining, Document fieldSelector) {
                super(id, remaining);
                this.fieldSelector = fieldSelector;
            }

            @Override
            public List<Document> takeDocuments(int numberToReturn) {
                return project(super.takeDocuments(numberToReturn), fieldSelector);
            }
        }

        @Override
        public synchronized Document updateDocuments(
                Document selector, Document update, ArrayFilters arrayFilters, boolean isMulti,
                boolean isUpsert, Oplog oplog) {
            Document document = arrayFilters.isEmpty() ? inPlaceTarget(selector, update) : null;
            if (document == null) {
                return super.updateDocuments(selector, update, arrayFilters, isMulti, isUpsert, oplog);
            }
            Map<String, Object> changes = new LinkedHashMap<>();
            Document sets = (Document) update.get("$set");
            if (sets != null) {
                changes.putAll(sets);
            }
            Document increments = (Document) update.get("$inc");
            if (increments != null) {
                for (Map.Entry<String, Object> entry : increments.entrySet()) {
                    Object current = document.get(entry.getKey());
                    Number base = current == null ? Integer.valueOf(0) : (Number) current;
                    changes.put(entry.getKey(), NumericUtils.addNumbers(base, (Number) entry.getValue()));
                }
            }
            boolean modified = false;
            for (Map.Entry<String, Object> change : changes.entrySet()) {
                String key = change.getKey();
                if (!document.containsKey(key) || !sameValue(document.get(key), change.getValue())) {
                    modified = true;
                }
                document.put(key, change.getValue());
            }
            List<Object> updatedIds = new ArrayList<>();
            if (modified) {
                updatedIds.add(document.get("_id"));
            }
            oplog.handleUpdate(getFullName(), selector, update, updatedIds);
            Document result = new Document();
            result.put("n", Integer.valueOf(1));
            result.put("nModified", Integer.valueOf(updatedIds.size()));
            return result;
        }

        /** The document an update can change in place (see the class comment), else null. */
        private Document inPlaceTarget(Document selector, Document update) {
            if (!"_id".equals(plainKey(selector)) || selector.get("_id") instanceof Document) {
                return null;
            }
            if (update.isEmpty()) {
                return null;
            }
            for (String operator : update.keySet()) {
                if (!operator.equals("$set") && !operator.equals("$inc")) {
                    return null;
                }
                if (!(update.get(operator) instanceof Document fields) || fields.isEmpty()) {
                    return null;
                }
                for (String key : fields.keySet()) {
                    if (key.isEmpty() || key.startsWith("$") || key.contains(".") || key.equals("_id")
                            || isIndexed(key)) {
                        return null;
                    }
                }
            }
            Document sets = (Document) update.get("$set");
            Document increments = (Document) update.get("$inc");
            if (sets != null && increments != null) {
                for (String key : increments.keySet()) {
                    if (sets.containsKey(key)) {
                        return null;  // a conflict MongoDB refuses: the stock path names it
                    }
                }
            }
            Index<Integer> primary = uniqueIndexOn("_id");
            if (primary == null) {
                return null;
            }
            Iterator<Integer> positions = primary.getPositions(selector).iterator();
            if (!positions.hasNext()) {
                return null;  // no match: the stock path answers, upserting if asked
            }
            Document document = getDocument(positions.next());
            if (increments != null) {
                for (Map.Entry<String, Object> entry : increments.entrySet()) {
                    Object current = document.get(entry.getKey());
                    boolean numeric = current == null ? !document.containsKey(entry.getKey()) : current instanceof Number;
                    if (!numeric || !(entry.getValue() instanceof Number)) {
                        return null;  // the stock path's type errors (and its reading of null)
                    }
                }
            }
            return document;
        }

        /** The unique index on this one field alone, if the collection has one. */
        private Index<Integer> uniqueIndexOn(String field) {
            for (Index<Integer> index : getIndexes()) {
                List<IndexKey> keys = index.getKeys();
                if (index.isUnique() && keys.size() == 1 && keys.get(0).getKey().equals(field)) {
                    return index;
                }
            }
            return null;
        }

        /** Whether any index but the no-op secondary ones reads this top-level field. */
        private boolean isIndexed(String field) {
            for (Index<Integer> index : getIndexes()) {
                if (index instanceof EmptyIndex) {
                    continue;  // secondary indexes are not kept by this server (NOTES, Database)
                }
                for (IndexKey key : index.getKeys()) {
                    String path = key.getKey();
                    if (path.equals(field) || path.startsWith(field + ".")) {
                        return true;
                    }
                }
            }
            return false;
        }

        /** The stock path's notion of an unchanged value (Utils.nullAwareEquals: 1 equals 1.0). */
        private static boolean sameValue(Object a, Object b) {
            try {
                return (Boolean) NULL_AWARE_EQUALS.invoke(null, a, b);
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException(e);
            }
        }

        private static final Method NULL_AWARE_EQUALS = nullAwareEquals();

        private static Method nullAwareEquals() {
            try {
                Method method = Utils.class.getDeclaredMethod("nullAwareEquals", Object.class, Object.class);
                method.setAccessible(true);
                return method;
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException(e);
            }
        }

        @Override
        protected QueryResult queryDocuments(
                Document query, Document orderBy, int numberToSkip, int limit, int batchSize,
                Document fieldSelector) {
            String key = plainKey(query);
            if (key != null) {
                Index<Integer> index = uniqueIndexOn(key);
                if (index != null && index.canHandle(query)) {
                    // each position the unique index gives for this key's values matches
                    return matchDocuments(MATCH_ALL, index.getPositions(query), orderBy, numberToSkip,
                            limit, batchSize, fieldSelector);
                }
            }
            return super.queryDocuments(query, orderBy, numberToSkip, limit, batchSize, fieldSelector);
        }

        /** The one field of a query on one top-level field for a plain value or an $in of them. */
        private static String plainKey(Document query) {
            if (query.size() != 1) {
                return null;
            }
            String key = query.keySet().iterator().next();
            if (key.startsWith("$") || key.contains(".")) {
                return null;
            }
            Object value = query.get(key);
            if (value instanceof Document expression) {
                if (expression.size() != 1 || !(expression.get("$in") instanceof Collection<?> values)) {
                    return null;
                }
                return values.stream().allMatch(HotPathCollection::isPlain) ? key : null;
            }
            return isPlain(value) ? key : null;
        }

        /** A value whose index key is itself: no null, number widening, array or sub-document. */
        static boolean isPlain(Object value) {
            return value instanceof String || value instanceof ObjectId;
        }
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 1 || args.length > 2) {
            System.err.println("usage: java -cp 'JARS/*' Launcher.java PORT [H2FILE]");
            System.exit(2);
        }
        int port = Integer.parseInt(args[0]);
        MongoBackend backend = args.length == 2 ? new H2Backend(args[1]) : new HotPathBackend();
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
