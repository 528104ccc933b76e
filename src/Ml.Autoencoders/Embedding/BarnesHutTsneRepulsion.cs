namespace Ml.Autoencoders.Embedding;

/// <summary>
/// Barnes-Hut approximation of the t-SNE repulsion (van der Maaten 2014, "Accelerating t-SNE using tree-based
/// algorithms"; the space-partitioning tree of bhtsne's <c>SPTree</c> and scikit-learn's <c>_barnes_hut_tsne</c>) in
/// 1, 2 or 3 output dimensions, in O(n log n) per call instead of O(n²).
/// </summary>
/// <remarks>
/// <para>
/// Each <see cref="Compute"/> builds a 2^d-ary tree (binary tree, quadtree or octree) over the bounding box of the
/// embedding by splitting every cell at its geometric centre. A cell is summarised by its point count N_cell and centre
/// of mass y_cell. For point i a cell that does not contain i is accepted as one body when
/// <c>width² &lt; θ² ‖y_i − y_cell‖²</c>, i.e. width / distance &lt; θ, where width is the largest full side
/// length of the cell; it then contributes N_cell·w to Z and N_cell·w²(y_i − y_cell) to F_i with
/// w = 1 / (1 + ‖y_i − y_cell‖²). This is scikit-learn's criterion (largest full side, squared comparison); bhtsne
/// compares the largest <em>half</em>-width with θ, so bhtsne's θ corresponds to about 2θ here. Cells containing i
/// are never summarised (so i never repels itself); otherwise the traversal descends, and leaves are summed exactly.
/// With θ = 0 no cell is accepted and the result is the exact sum up to rounding.
/// </para>
/// <para>
/// A leaf holds up to <see cref="LeafSize"/> points, and splitting stops at depth <see cref="MaxDepth"/>, so coincident
/// or nearly coincident points end in one leaf (summed exactly) instead of recursing forever.
/// </para>
/// <para>
/// The tree is stored in flat arrays (nodes as structs, points permuted into tree order), and all buffers are kept
/// and reused across calls, so steady-state calls allocate almost nothing. Forces are computed for all points in
/// parallel; Z is summed per fixed block of points and the block sums are added in order, so the result does not
/// depend on thread scheduling. An instance is therefore <b>not thread-safe</b>: use one instance per thread.
/// </para>
/// </remarks>
internal sealed class BarnesHutTsneRepulsion : ITsneRepulsion
{
    /// <summary>Most points a leaf holds before it is split (unless <see cref="MaxDepth"/> is reached).</summary>
    internal const int LeafSize = 16;

    /// <summary>Depth at which splitting stops whatever the point count (guards against duplicates).</summary>
    internal const int MaxDepth = 48;

    /// <summary>Points per parallel work item (and per partial sum of Z).</summary>
    private const int BlockSize = 128;

    /// <summary>A tree cell: centre of mass, squared largest side, its range of tree-ordered points and children.</summary>
    private struct Node
    {
        public double X, Y, Z;
        public double Width2;
        public int Start, Count;
        public int FirstChild, ChildCount;
    }

    private readonly double _theta2;
    private Node[] _nodes = new Node[64];
    private int _nodeCount;
    private int _count;
    private int _dimensions;

    // Points in tree order, always three coordinates (unused ones are 0, which adds exactly nothing to distances).
    private double[] _x = [], _y = [], _z = [];
    private double[] _tx = [], _ty = [], _tz = [];
    private int[] _order = [], _tmpOrder = [];
    // Forces in tree order, and one Z partial sum per block.
    private double[] _fx = [], _fy = [], _fz = [];
    private double[] _blockZ = [];
    private readonly Action<int> _block;

    /// <summary>Creates the method with accuracy parameter <paramref name="theta"/> (0 = exact; 0.5 is usual).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="theta"/> is negative or not finite.</exception>
    public BarnesHutTsneRepulsion(double theta = 0.5)
    {
        if (!(theta >= 0) || double.IsInfinity(theta))
            throw new ArgumentOutOfRangeException(nameof(theta), theta, "theta must be a finite number ≥ 0.");
        Theta = theta;
        _theta2 = theta * theta;
        _block = ComputeBlock;
    }

    /// <summary>The accuracy parameter: a cell is one body when its largest side over its distance is below it.</summary>
    public double Theta { get; }

    /// <summary>Number of tree cells built by the last <see cref="Compute"/> (for tests and diagnostics).</summary>
    internal int NodeCount => _nodeCount;

    /// <inheritdoc />
    public double Compute(ReadOnlySpan<double> embedding, int count, int dimensions, Span<double> forces)
    {
        TsneRepulsionChecks.Check(embedding, count, dimensions, forces);
        Load(embedding, count, dimensions);
        BuildTree();

        int blocks = (count + BlockSize - 1) / BlockSize;
        if (_blockZ.Length < blocks) _blockZ = new double[blocks];
        if (blocks == 1) _block(0);
        else System.Threading.Tasks.Parallel.For(0, blocks, Runtime.TorchThreads.Parallel, _block);
        double z = 0;
        for (int b = 0; b < blocks; b++) z += _blockZ[b];

        for (int p = 0; p < count; p++)
        {
            int o = _order[p] * dimensions;
            forces[o] = _fx[p];
            if (dimensions > 1) forces[o + 1] = _fy[p];
            if (dimensions > 2) forces[o + 2] = _fz[p];
        }
        return z;
    }

    private void Load(ReadOnlySpan<double> embedding, int count, int dimensions)
    {
        if (_x.Length < count)
        {
            int n = Math.Max(count, _x.Length * 2);
            _x = new double[n]; _y = new double[n]; _z = new double[n];
            _tx = new double[n]; _ty = new double[n]; _tz = new double[n];
            _fx = new double[n]; _fy = new double[n]; _fz = new double[n];
            _order = new int[n]; _tmpOrder = new int[n];
        }
        _count = count;
        _dimensions = dimensions;
        for (int i = 0; i < count; i++)
        {
            int o = i * dimensions;
            _x[i] = embedding[o];
            _y[i] = dimensions > 1 ? embedding[o + 1] : 0;
            _z[i] = dimensions > 2 ? embedding[o + 2] : 0;
            _order[i] = i;
        }
    }

    private void BuildTree()
    {
        double minX = double.PositiveInfinity, minY = double.PositiveInfinity, minZ = double.PositiveInfinity;
        double maxX = double.NegativeInfinity, maxY = double.NegativeInfinity, maxZ = double.NegativeInfinity;
        for (int i = 0; i < _count; i++)
        {
            minX = Math.Min(minX, _x[i]); maxX = Math.Max(maxX, _x[i]);
            minY = Math.Min(minY, _y[i]); maxY = Math.Max(maxY, _y[i]);
            minZ = Math.Min(minZ, _z[i]); maxZ = Math.Max(maxZ, _z[i]);
        }
        _nodeCount = 1;
        Build(0, 0, _count, 0.5 * (minX + maxX), 0.5 * (minY + maxY), 0.5 * (minZ + maxZ),
            0.5 * (maxX - minX), 0.5 * (maxY - minY), 0.5 * (maxZ - minZ), 0);
    }

    /// <summary>Fills node <paramref name="index"/> for the tree-ordered points [start, start + count) in the given cell.</summary>
    private void Build(int index, int start, int count, double cx, double cy, double cz, double hx, double hy, double hz, int depth)
    {
        double sx = 0, sy = 0, sz = 0;
        for (int p = start; p < start + count; p++)
        {
            sx += _x[p]; sy += _y[p]; sz += _z[p];
        }
        double width = 2 * Math.Max(hx, Math.Max(hy, hz));
        ref var node = ref _nodes[index];
        node.X = sx / count; node.Y = sy / count; node.Z = sz / count;
        node.Width2 = width * width;
        node.Start = start; node.Count = count;
        node.FirstChild = 0; node.ChildCount = 0;
        if (count <= LeafSize || depth >= MaxDepth) return;

        // Counting sort of the range into the 2^d children (bit 0: x ≥ cx, bit 1: y ≥ cy, bit 2: z ≥ cz).
        int dims = _dimensions;
        Span<int> bucketCount = stackalloc int[8];
        Span<int> bucketStart = stackalloc int[8];
        bucketCount.Clear();
        for (int p = start; p < start + count; p++) bucketCount[Octant(p, cx, cy, cz, dims)]++;
        int running = start;
        for (int b = 0; b < 8; b++) { bucketStart[b] = running; running += bucketCount[b]; }
        Span<int> cursor = stackalloc int[8];
        bucketStart.CopyTo(cursor);
        for (int p = start; p < start + count; p++)
        {
            int q = cursor[Octant(p, cx, cy, cz, dims)]++;
            _tx[q] = _x[p]; _ty[q] = _y[p]; _tz[q] = _z[p]; _tmpOrder[q] = _order[p];
        }
        Array.Copy(_tx, start, _x, start, count);
        Array.Copy(_ty, start, _y, start, count);
        Array.Copy(_tz, start, _z, start, count);
        Array.Copy(_tmpOrder, start, _order, start, count);

        int children = 0;
        for (int b = 0; b < 8; b++) if (bucketCount[b] > 0) children++;
        int first = _nodeCount;
        _nodeCount += children;
        if (_nodes.Length < _nodeCount) Array.Resize(ref _nodes, Math.Max(_nodeCount, 2 * _nodes.Length));
        _nodes[index].FirstChild = first;
        _nodes[index].ChildCount = children;

        double qx = 0.5 * hx, qy = 0.5 * hy, qz = 0.5 * hz;
        int child = first;
        for (int b = 0; b < 8; b++)
        {
            if (bucketCount[b] == 0) continue;
            double ncx = dims > 0 ? ((b & 1) != 0 ? cx + qx : cx - qx) : cx;
            double ncy = dims > 1 ? ((b & 2) != 0 ? cy + qy : cy - qy) : cy;
            double ncz = dims > 2 ? ((b & 4) != 0 ? cz + qz : cz - qz) : cz;
            Build(child++, bucketStart[b], bucketCount[b], ncx, ncy, ncz, qx, qy, qz, depth + 1);
        }
    }

    private int Octant(int p, double cx, double cy, double cz, int dims)
    {
        int b = _x[p] >= cx ? 1 : 0;
        if (dims > 1 && _y[p] >= cy) b |= 2;
        if (dims > 2 && _z[p] >= cz) b |= 4;
        return b;
    }

    /// <summary>Forces on the tree-ordered points of one block; stores the block's part of Z.</summary>
    private void ComputeBlock(int block)
    {
        int begin = block * BlockSize, end = Math.Min(_count, begin + BlockSize);
        double zBlock = 0;
        for (int p = begin; p < end; p++)
        {
            zBlock += Accumulate(p, _x[p], _y[p], _z[p], out _fx[p], out _fy[p], out _fz[p]);
        }
        _blockZ[block] = zBlock;
    }

    /// <summary>
    /// Builds the tree of a fixed embedding once, for <see cref="ForceOn"/> queries from points outside it (placing new
    /// rows against a trained embedding). Not thread-safe with <see cref="Compute"/>; <see cref="ForceOn"/> calls may run concurrently.
    /// </summary>
    public void Prepare(ReadOnlySpan<double> embedding, int count, int dimensions)
    {
        TsneRepulsionChecks.Check(embedding, count, dimensions, new double[(long)count * dimensions]);
        Load(embedding, count, dimensions);
        BuildTree();
    }

    /// <summary>
    /// For a point that is not part of the prepared embedding: writes Σ_j w_j² (y − y_j) into <paramref name="force"/>
    /// and returns Σ_j w_j over all prepared points j (Barnes-Hut approximated).
    /// </summary>
    public double ForceOn(ReadOnlySpan<double> point, Span<double> force)
    {
        double z = Accumulate(-1, point[0], _dimensions > 1 ? point[1] : 0, _dimensions > 2 ? point[2] : 0, out double fx, out double fy, out double fz);
        force[0] = fx;
        if (_dimensions > 1) force[1] = fy;
        if (_dimensions > 2) force[2] = fz;
        return z;
    }

    /// <summary>Traverses the tree for tree-ordered point <paramref name="p"/> (−1 for an outside point); returns its part of Z.</summary>
    private double Accumulate(int p, double px, double py, double pz, out double fxOut, out double fyOut, out double fzOut)
    {
        Span<int> stack = stackalloc int[8 * (MaxDepth + 2)];
        var nodes = _nodes;
        double[] xs = _x, ys = _y, zs = _z;
        double theta2 = _theta2;
        double fx = 0, fy = 0, fz = 0, zp = 0;
        int top = 0;
        stack[top++] = 0;
        while (top > 0)
        {
            ref readonly var node = ref nodes[stack[--top]];
            bool containsP = p >= 0 && (uint)(p - node.Start) < (uint)node.Count;
            if (!containsP)
            {
                double dx = px - node.X, dy = py - node.Y, dz = pz - node.Z;
                double d2 = dx * dx + dy * dy + dz * dz;
                if (node.Width2 < theta2 * d2)
                {
                    double w = 1 / (1 + d2);
                    double nw = node.Count * w;
                    zp += nw;
                    double m = nw * w;
                    fx += m * dx; fy += m * dy; fz += m * dz;
                    continue;
                }
            }
            if (node.ChildCount == 0)
            {
                for (int q = node.Start, qEnd = node.Start + node.Count; q < qEnd; q++)
                {
                    if (q == p) continue;
                    double dx = px - xs[q], dy = py - ys[q], dz = pz - zs[q];
                    double w = 1 / (1 + dx * dx + dy * dy + dz * dz);
                    zp += w;
                    double m = w * w;
                    fx += m * dx; fy += m * dy; fz += m * dz;
                }
            }
            else
            {
                for (int c = node.FirstChild + node.ChildCount - 1; c >= node.FirstChild; c--) stack[top++] = c;
            }
        }
        fxOut = fx; fyOut = fy; fzOut = fz;
        return zp;
    }
}
