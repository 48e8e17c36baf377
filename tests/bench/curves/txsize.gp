# txsize.dat: tx_bytes committed_tps mb_per_s p50_ms p99_ms rss_mib
load dir."/common.gp"
set multiplot layout 2,1 title "cairn: throughput and latency vs tx size, 1 validator (".subtitle.")"
set xlabel "signed tx size (bytes)"
set logscale x 2
set ylabel "committed tx/s"
set y2label "MB/s"
set ytics nomirror
set y2tics
set yrange [0:*]
set y2range [0:*]
plot datafile using 1:2 with linespoints ls 1 title "tx/s", \
     datafile using 1:3 axes x1y2 with linespoints ls 3 title "MB/s"
unset y2label
unset y2tics
set ytics mirror
set ylabel "submit -> commit latency (ms)"
plot datafile using 1:5 with linespoints ls 2 title "p99", \
     datafile using 1:4 with linespoints ls 3 title "p50"
unset multiplot
