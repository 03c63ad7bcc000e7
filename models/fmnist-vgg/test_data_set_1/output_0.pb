
BlogitsJ(;Û¿vmÁ„˜8AFÊÐÀ†F‘?¦Z’ÁJ=f>W«cÁ58ÁC\Á