# state.dat: keys committed_tps p50_ms p99_ms rss_mib rss_anon_mib db_mib fill_tps
load dir."/common.gp"
set multiplot layout 2,1 title "cairn: throughput, latency and memory vs state size, 1 validator (".subtitle.")"
set xlabel "keys in state (bank accounts added by --fill)"
set logscale x 10
set format x "10^{%L}"
set ylabel "committed tx/s"
set y2label "p99 latency (ms)"
set ytics nomirror
set y2tics
set yrange [0:*]
set y2range [0:*]
plot datafile using 1:2 with linespoints ls 1 title "tx/s", \
     datafile using 1:4 axes x1y2 with linespoints ls 2 title "p99 (ms)"
unset y2label
unset y2tics
set ytics mirror
set ylabel "MiB"
plot datafile using 1:5 with linespoints ls 1 title "node RSS", \
     datafile using 1:6 with linespoints ls 3 title "node RssAnon (heap)", \
     datafile using 1:7 with linespoints ls 4 title "state on disk (data dir)"
unset multiplot
