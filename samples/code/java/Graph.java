import java.util.*;

/**
 * A directed, weighted graph stored as adjacency lists, with breadth-first
 * search, Dijkstra's shortest paths and a topological sort (Kahn's algorithm).
 *
 * <p>Vertices are arbitrary strings; they are created on first use.
 */
public class Graph {

    /** An outgoing edge: target vertex and non-negative weight. */
    public record Edge(String to, double weight) {}

    private final Map<String, List<Edge>> adjacency = new LinkedHashMap<>();

    public void addVertex(String v) {
        adjacency.computeIfAbsent(v, k -> new ArrayList<>());
    }

    public void addEdge(String from, String to, double weight) {
        if (weight < 0) {
            throw new IllegalArgumentException("negative weight on " + from + " -> " + to);
        }
        addVertex(from);
        addVertex(to);
        adjacency.get(from).add(new Edge(to, weight));
    }

    public Set<String> vertices() {
        return Collections.unmodifiableSet(adjacency.keySet());
    }

    /** Vertices reachable from {@code start}, in BFS order. */
    public List<String> bfs(String start) {
        List<String> order = new ArrayList<>();
        if (!adjacency.containsKey(start)) return order;
        Set<String> seen = new HashSet<>(List.of(start));
        Deque<String> queue = new ArrayDeque<>(List.of(start));
        while (!queue.isEmpty()) {
            String v = queue.poll();
            order.add(v);
            for (Edge e : adjacency.get(v)) {
                if (seen.add(e.to())) queue.add(e.to());
            }
        }
        return order;
    }

    /** Shortest distances from {@code source}; unreachable vertices are absent. */
    public Map<String, Double> dijkstra(String source) {
        Map<String, Double> dist = new HashMap<>();
        PriorityQueue<Map.Entry<String, Double>> pq =
                new PriorityQueue<>(Map.Entry.comparingByValue());
        dist.put(source, 0.0);
        pq.add(Map.entry(source, 0.0));
        while (!pq.isEmpty()) {
            var cur = pq.poll();
            String v = cur.getKey();
            double d = cur.getValue();
            if (d > dist.getOrDefault(v, Double.POSITIVE_INFINITY)) continue; // stale entry
            for (Edge e : adjacency.getOrDefault(v, List.of())) {
                double nd = d + e.weight();
                if (nd < dist.getOrDefault(e.to(), Double.POSITIVE_INFINITY)) {
                    dist.put(e.to(), nd);
                    pq.add(Map.entry(e.to(), nd));
                }
            }
        }
        return dist;
    }

    /**
     * Topological order of all vertices.
     *
     * @throws IllegalStateException if the graph contains a cycle
     */
    public List<String> topologicalSort() {
        Map<String, Integer> indegree = new HashMap<>();
        for (String v : adjacency.keySet()) indegree.putIfAbsent(v, 0);
        for (List<Edge> edges : adjacency.values()) {
            for (Edge e : edges) indegree.merge(e.to(), 1, Integer::sum);
        }
        Deque<String> ready = new ArrayDeque<>();
        for (String v : adjacency.keySet()) {
            if (indegree.get(v) == 0) ready.add(v);
        }
        List<String> order = new ArrayList<>();
        while (!ready.isEmpty()) {
            String v = ready.poll();
            order.add(v);
            for (Edge e : adjacency.get(v)) {
                if (indegree.merge(e.to(), -1, Integer::sum) == 0) ready.add(e.to());
            }
        }
        if (order.size() != adjacency.size()) {
            throw new IllegalStateException("graph has a cycle");
        }
        return order;
    }

    public static void main(String[] args) {
        Graph g = new Graph();
        g.addEdge("fetch", "parse", 2);
        g.addEdge("parse", "filter", 1);
        g.addEdge("fetch", "filter", 5);
        g.addEdge("filter", "dedup", 3);
        g.addEdge("dedup", "shard", 1);
        g.addEdge("parse", "shard", 9);

        System.out.println("BFS from fetch: " + g.bfs("fetch"));
        System.out.println("Distances:      " + new TreeMap<>(g.dijkstra("fetch")));
        System.out.println("Topological:    " + g.topologicalSort());
    }
}
