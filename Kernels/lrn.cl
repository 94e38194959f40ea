// lrn
