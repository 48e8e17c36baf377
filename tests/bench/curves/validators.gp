# validators.dat: validators committed_tps p50_ms p99_ms rss_mib offered_tps
load dir."/common.gp"
set multiplot layout 2,1 title "cairn: throughput and latency vs validators (".subtitle.")"
set xlabel "validators (pos, one machine)"
set xtics 1
set xrange [0:*]
set ylabel "committed tx/s"
set yrange [0:*]
plot datafile using 1:2 with linespoints ls 1 title "committed tx/s", \
     datafile using 1:6 with linespoints ls 4 dt 2 title "offered tx/s"
set ylabel "submit -> commit latency (ms)"
plot datafile using 1:3 with linespoints ls 3 title "p50", \
     datafile using 1:4 with linespoints ls 2 title "p99"
unset multiplot
