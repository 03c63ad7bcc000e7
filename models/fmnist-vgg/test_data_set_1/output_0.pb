
BlogitsJ(∆"øÎC#¡πg:AÆô¿p√aø¨’b¡‡P>l€8¡!&¡Id¡