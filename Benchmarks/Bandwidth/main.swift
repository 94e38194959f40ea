print("bw")
