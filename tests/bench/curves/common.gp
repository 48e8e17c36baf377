# Shared by the curves' gnuplot scripts (tests/bench/curves.sh): a PNG
# terminal (pngcairo when this gnuplot has it, else the libgd png) and the
# style. Called with -e "datafile='...'; outfile='...'".
if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
  set terminal pngcairo size 1000,760 enhanced font "sans,10"
} else {
  set terminal png size 1000,760 enhanced
}
set output outfile
set grid
set key top left box opaque
set style line 1 lw 2 pt 7 ps 1.2 lc rgb "#1f77b4"
set style line 2 lw 2 pt 5 ps 1.2 lc rgb "#d62728"
set style line 3 lw 2 pt 9 ps 1.2 lc rgb "#2ca02c"
set style line 4 lw 2 pt 11 ps 1.2 lc rgb "#9467bd"
